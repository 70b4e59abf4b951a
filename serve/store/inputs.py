"""Checks of an execution's inputs beyond their JSON types: pure functions, no database.

Files, directories and dataframes arrive as URIs. The admin server's driver reads
them with the server's credentials, so only URIs inside the configured blob store
are accepted: never a path or ``file://`` URI elsewhere on the server.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from typing import Any

from engine.dag.spec import Interface, LaunchPlanSpec, WorkflowSpec
from engine.types.literal import Kind, LiteralType, literal_matches
from serve.errors import InvalidArgumentError
from serve.store.identifiers import describe
from serve.store.specs import check_input_values


def resolve_launch_plan_inputs(plan: LaunchPlanSpec, workflow: WorkflowSpec,
                               given: Any) -> dict[str, Any]:
    """The inputs of a launch: the workflow's defaults, then the plan's defaults, then
    ``given``, then the fixed inputs; in the workflow's input order.

    Raises InvalidArgumentError when ``given`` sets a fixed input, names an unknown
    input, has a value of the wrong type, or leaves a required input without a value.
    """
    where = f"launch of {describe(plan.id)}"
    for name in given if isinstance(given, dict) else ():
        if name in plan.fixed_inputs:
            raise InvalidArgumentError(
                f"{where}: input '{name}' is fixed by the launch plan to "
                f"{json.dumps(plan.fixed_inputs[name])[:80]} and cannot be given at launch; "
                "leave it out, or launch another launch plan")
    values = check_input_values(given, workflow.interface, f"{where}: inputs")
    merged: dict[str, Any] = {}
    for var in workflow.interface.inputs:
        for source in (plan.fixed_inputs, values, plan.default_inputs):
            if var.name in source:
                merged[var.name] = source[var.name]
                break
        else:
            if var.has_default:
                merged[var.name] = var.default
    missing = [v.name for v in workflow.interface.inputs if v.name not in merged]
    if missing:
        raise InvalidArgumentError(f"{where}: no value for required input(s) "
                                   f"{', '.join(repr(m) for m in missing)}")
    return merged


def resolve_task_inputs(interface: Interface, given: Any, where: str) -> dict[str, Any]:
    """The inputs a task runs with alone: ``given`` checked, then the task's defaults;
    InvalidArgumentError names an unknown input, a wrong value or a missing one."""
    values = check_input_values(given, interface, f"{where}: inputs")
    merged: dict[str, Any] = {}
    for var in interface.inputs:
        if var.name in values:
            merged[var.name] = values[var.name]
        elif var.has_default:
            merged[var.name] = var.default
    missing = [v.name for v in interface.inputs if v.name not in merged]
    if missing:
        raise InvalidArgumentError(f"{where}: no value for required input(s) "
                                   f"{', '.join(repr(m) for m in missing)}")
    return merged


def check_input_uris(values: dict[str, Any], interface: Interface, blob_root: str | None,
                     where: str) -> None:
    """Raise unless every file, directory or dataframe in ``values`` is a URI under
    ``blob_root``; with no blob root configured, none may be given."""
    for var in interface.inputs:
        if var.name in values:
            for uri in _uris(values[var.name], var.type):
                if blob_root is None or not inside(uri, blob_root):
                    raise InvalidArgumentError(
                        f"{where}: input '{var.name}' ({var.type}) must be a URI inside the "
                        f"blob store {blob_root or '(none configured)'}, got {uri[:200]!r}; "
                        "upload the data there first")


# Percent-encoded dots, slashes, backslashes and percents: a store or a later hop that
# decodes them would see "..", "/" or a second encoding the checks here did not.
_ENCODED = re.compile(r"%(2e|2f|5c|25)", re.IGNORECASE)


def inside(uri: str, root: str) -> bool:
    """Whether ``uri`` names something under ``root``: the same scheme, no ``.`` or ``..``
    segment, no NUL, backslash or encoded separator; for a ``file://`` root, no symlink
    that leads out of it (both are resolved on this machine)."""
    if "://" not in uri or "\\" in uri or "\x00" in uri or _ENCODED.search(uri):
        return False
    scheme, _, path = uri.partition("://")
    root_scheme, _, root_path = root.rstrip("/").partition("://")
    if scheme != root_scheme or not path or any(part in ("..", ".") for part in
                                                    path.split("/")):
        return False
    normal = posixpath.normpath("/" + path.lstrip("/"))
    base = posixpath.normpath("/" + root_path.lstrip("/"))
    if not normal.startswith(base.rstrip("/") + "/"):
        return False
    if scheme == "file":
        real_base = os.path.realpath(base)
        return os.path.commonpath([real_base, os.path.realpath(normal)]) == real_base
    return True


def _uris(value: Any, t: LiteralType) -> list[str]:
    """The URIs of files, directories and dataframes in a JSON literal of type ``t``."""
    if value is None:
        return []
    if t.kind is Kind.BLOB:
        return [value] if isinstance(value, str) else []
    if t.kind is Kind.DATAFRAME:
        uri = value.get("uri") if isinstance(value, dict) else None
        return [uri] if isinstance(uri, str) else []
    if t.kind is Kind.LIST and t.item is not None and isinstance(value, list):
        return [u for v in value for u in _uris(v, t.item)]
    if t.kind is Kind.MAP and t.item is not None and isinstance(value, dict):
        return [u for v in value.values() for u in _uris(v, t.item)]
    if t.kind is Kind.RECORD and isinstance(value, dict):
        return [u for name, ft in t.fields for u in _uris(value.get(name), ft)]
    if t.kind is Kind.UNION:
        if isinstance(value, dict) and value.keys() == {"variant", "value"}:
            return [u for v in t.variants if str(v) == value["variant"]
                    for u in _uris(value["value"], v)]
        # An untagged value: every variant it could be read as is checked.
        return [u for v in t.variants if literal_matches(value, v) for u in _uris(value, v)]
    return []
