"""The ids the API takes in paths and bodies (project, domain, name, version, node id),
typed with their rules.

Invariant: the OpenAPI document states exactly what the server accepts. Each id type
validates with ``serve.store.identifiers.check_part`` (its message names the rule) and
declares the same rule as its JSON Schema, so a request the document calls valid is never
refused for an id, and one it calls invalid is always a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, WithJsonSchema

from serve.errors import InvalidArgumentError
from serve.store.identifiers import check_part, json_schema


def _rule(field: str) -> Callable[[str], str]:
    """A validator of ``field``: pydantic reports its ValueError as a 400 naming the
    field, with the store's message."""

    def check(value: str) -> str:
        try:
            return check_part(field, value)
        except InvalidArgumentError as e:
            raise ValueError(str(e)) from None

    return check


ProjectId = Annotated[str, AfterValidator(_rule("project")),
                      WithJsonSchema(json_schema("project"))]
DomainId = Annotated[str, AfterValidator(_rule("domain")),
                     WithJsonSchema(json_schema("domain"))]
# Entity names, execution names and launch plan names share one rule.
Name = Annotated[str, AfterValidator(_rule("name")), WithJsonSchema(json_schema("name"))]
Version = Annotated[str, AfterValidator(_rule("version")),
                    WithJsonSchema(json_schema("version"))]
# Node ids are the workflow's own ("n0", "n0-1", "on-failure"); the store keeps at most
# 255 characters of one, so a longer one names no node.
NodeId = Annotated[str, Path(min_length=1, max_length=255,
                             description="A node's id in its workflow, as the execution's "
                                         "node executions list it.")]
