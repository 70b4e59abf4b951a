"""What a valid identifier looks like: the rules for project, domain, name and version.

Every id is checked here before it reaches the database or a URL path, so ids are
always usable as path segments (no ``/``, no whitespace) and fit their columns.
"""

from __future__ import annotations

import re
from typing import Any

from engine.dag.spec import Identifier, ResourceType
from serve.errors import InvalidArgumentError

# Projects and domains: DNS-label style, as in Flyte.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Names and versions: module paths ("pkg.mod.task"), map task names ("x.map-r0.5"),
# versions ("v1.2", "a174381a547861bf", "2024-01-01T00:00"). Never "/" (a path segment).
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:+=@~-]*")
MAX_NAME = 512
MAX_VERSION = 255

_RULES = {
    "project": (_LABEL, 63, "1-63 lowercase letters, digits or '-', starting and ending "
                            "with a letter or digit (e.g. 'flytesnacks')"),
    "domain": (_LABEL, 63, "1-63 lowercase letters, digits or '-', starting and ending "
                           "with a letter or digit (e.g. 'development')"),
    "name": (_TOKEN, MAX_NAME, f"1-{MAX_NAME} letters, digits or any of _ . : + = @ ~ -, "
                               "starting with a letter, digit or '_'"),
    "version": (_TOKEN, MAX_VERSION, f"1-{MAX_VERSION} letters, digits or any of "
                                     "_ . : + = @ ~ -, starting with a letter, digit or '_'"),
}
RESOURCE_TYPES = ", ".join(t.value for t in ResourceType)


def check_part(field: str, value: object) -> str:
    """``value`` when it is a valid ``field`` (project, domain, name or version)."""
    pattern, longest, rule = _RULES[field]
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{field} must be a string, got {type(value).__name__}")
    if len(value) > longest or not pattern.fullmatch(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidArgumentError(f"invalid {field} {shown!r}: a {field} is {rule}")
    return value


def json_schema(field: str) -> dict[str, Any]:
    """The JSON Schema of a valid ``field``, for the API's OpenAPI document: the rule of
    :func:`check_part`, its expression anchored (ECMAScript's ``^...$`` matches what
    Python's ``fullmatch`` does)."""
    pattern, longest, rule = _RULES[field]
    return {"type": "string", "pattern": f"^{pattern.pattern}$", "minLength": 1,
            "maxLength": longest, "description": f"A {field}: {rule}."}


def resource_type(value: object) -> ResourceType:
    try:
        return ResourceType(value)
    except (ValueError, TypeError):
        raise InvalidArgumentError(
            f"unknown resource_type {value!r}; expected one of {RESOURCE_TYPES}") from None


def check_identifier(ident: Identifier, expected: ResourceType | None = None) -> Identifier:
    """``ident`` when every part is valid and, if given, its type is ``expected``."""
    kind = resource_type(ident.resource_type)
    if expected is not None and kind is not expected:
        raise InvalidArgumentError(
            f"identifier {describe(ident)} has resource_type '{kind.value}', expected "
            f"'{expected.value}'")
    for field in ("project", "domain", "name", "version"):
        check_part(field, getattr(ident, field))
    return ident


def identifier_from_dict(data: Any, where: str,
                         expected: ResourceType | None = None) -> Identifier:
    """Parse and check an identifier's JSON form; ``where`` names it in messages."""
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where} must be an object with resource_type, project, "
                                   f"domain, name and version, got {type(data).__name__}")
    missing = [k for k in ("resource_type", "project", "domain", "name", "version")
               if k not in data]
    if missing:
        raise InvalidArgumentError(f"{where} lacks {', '.join(missing)}")
    ident = Identifier(resource_type(data["resource_type"]), data["project"], data["domain"],
                       data["name"], data["version"])
    try:
        return check_identifier(ident, expected)
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"{where}: {e}") from None


def describe(ident: Identifier) -> str:
    """``task flytesnacks/development/pkg.add@v1``: how messages name an entity."""
    kind = ident.resource_type.value.replace("_", " ")
    return f"{kind} {ident.project}/{ident.domain}/{ident.name}@{ident.version}"
