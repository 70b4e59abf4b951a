"""An execution's labels, annotations and raw-output prefix: resolved when it is created
(the launch plan's defaults overlaid by the request's), stored, read back, and filtered on.

Labels live twice: as JSON on the execution's row (read with it) and as rows of
``admin_execution_labels`` (what ``?label=key:value`` matches, by index). The
raw-output prefix must lie inside the server's blob store: the drivers write there with
the server's credentials.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.dag.spec import LaunchPlanSpec
from engine.dag.spec.labels import (
    KEY_PATTERN,
    NAME_RULE,
    check_annotations,
    check_labels,
    check_prefix,
)
from engine.errors import SpecError
from serve.errors import InvalidArgumentError
from serve.store._models import ExecutionLabelRow, ExecutionRow
from serve.store.execution_records import ExecutionRequest
from serve.store.inputs import inside
from serve.store.specs import canonical_json

COLUMNS = ("labels", "annotations", "raw_output_prefix")


def resolve(plan: LaunchPlanSpec | None, request: ExecutionRequest, blob_root: str | None,
            where: str) -> dict[str, Any]:
    """The columns of a new execution: the plan's labels, annotations and prefix (a task
    has no plan) overlaid by the request's. InvalidArgumentError when one is invalid or
    the prefix lies outside the blob store."""
    try:
        labels = check_labels(request.labels, where)
        annotations = check_annotations(request.annotations, where)
        prefix = check_prefix(request.raw_output_prefix, where)
        if plan is not None:
            labels = {**plan.labels, **labels}
            annotations = check_annotations({**plan.annotations, **annotations}, where)
            prefix = prefix if prefix is not None else plan.raw_output_prefix
    except SpecError as e:
        raise InvalidArgumentError(str(e)) from None
    if prefix is not None:
        prefix = prefix.rstrip("/")
        root = (blob_root or "").rstrip("/")
        if not root or (prefix != root and not inside(prefix, root)):
            raise InvalidArgumentError(
                f"{where}: raw output prefix {prefix!r} must lie inside the blob store "
                f"{root or '(none configured)'}; choose a URI under it, e.g. "
                f"'{root or 's3://bucket'}/raw-data'")
    return {"labels": canonical_json(labels) if labels else None,
            "annotations": canonical_json(annotations) if annotations else None,
            "raw_output_prefix": prefix}


def add_rows(s: Session, row: ExecutionRow) -> None:
    """The label rows of a new execution, from its ``labels`` column."""
    for key, value in read(row)[0].items():
        s.add(ExecutionLabelRow(execution_pk=row.pk, key=key, value=value))
    s.flush()


def read(row: ExecutionRow) -> tuple[dict[str, str], dict[str, str], str | None]:
    """The execution's labels, annotations and raw-output prefix."""
    return (json.loads(row.labels) if row.labels else {},
            json.loads(row.annotations) if row.annotations else {}, row.raw_output_prefix)


def where_labelled(query: Select[ExecutionRow],
                   labels: tuple[tuple[str, str], ...]) -> Select[ExecutionRow]:
    """``query`` narrowed to executions that have every one of ``labels``."""
    for key, value in labels:
        if not re.fullmatch(KEY_PATTERN, key):  # the API's own rule, no more
            raise InvalidArgumentError(
                f"label filter: {key!r} is no label key: [prefix/]name, the name {NAME_RULE}")
        query = query.where(ExecutionRow.pk.in_(select(ExecutionLabelRow.execution_pk).where(
            ExecutionLabelRow.key == key, ExecutionLabelRow.value == value)))
    return query


def parse_filter(text: str) -> tuple[str, str]:
    """``key:value`` (the API's ``?label=``) as a pair; the key may hold ``/`` but no
    ``:``, so the first ``:`` splits."""
    key, found, value = text.partition(":")
    if not found or not key:
        raise InvalidArgumentError(f"label filter {text!r} must be key:value, e.g. team:ml")
    return key, value
