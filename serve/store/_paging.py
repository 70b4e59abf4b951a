"""Keyset paging: a page token holds the sort value and key of the last row returned.

Tokens are opaque to clients (URL-safe base64 of a small JSON object) and name the
order they belong to, so a token is never applied to another order by mistake.
Rows registered while a client pages do not shift the pages it has not read yet.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from serve.errors import InvalidArgumentError
from serve.store.database import aware
from serve.store.records import MAX_LIMIT, ListOptions, SortDirection, SortKey

Row = TypeVar("Row")
# The default orders of listings: entities newest first, names and projects by name.
NEWEST_FIRST = (SortKey.CREATED_AT, SortDirection.DESCENDING)
BY_NAME = (SortKey.NAME, SortDirection.ASCENDING)


def checked(options: ListOptions, keys: Sequence[SortKey],
            default: tuple[SortKey, SortDirection]) -> ListOptions:
    """``options`` with the listing's default order filled in, once checked; ``keys`` are
    the orders this listing offers."""
    key, direction = options.sort_key or default[0], options.direction or default[1]
    options = replace(options, sort_key=key, direction=direction)
    if isinstance(options.limit, bool) or not isinstance(options.limit, int) or not (
            1 <= options.limit <= MAX_LIMIT):
        raise InvalidArgumentError(f"limit must be between 1 and {MAX_LIMIT}, "
                                   f"got {options.limit!r}")
    if key not in keys:
        raise InvalidArgumentError(f"cannot sort this listing by {key.value!r}; "
                                   f"sort_by.key is one of {[k.value for k in keys]}")
    for what in (options.name, options.name_contains):
        if what is not None and (len(what) > 512 or "\x00" in what):
            raise InvalidArgumentError("a name filter is at most 512 characters, without NUL")
    return options


def keyset(query: Select[Any], options: ListOptions, column: InstrumentedAttribute[Any],
           tiebreak: InstrumentedAttribute[Any] | None) -> Select[Any]:
    """``query`` ordered by ``column`` (then ``tiebreak``), after the token's row, limited
    to one row more than a page (to tell whether another page follows)."""
    descending = order(options)[1] is SortDirection.DESCENDING
    if options.token:
        value, last = _decode(options, column.type.python_type,
                              tiebreak.type.python_type if tiebreak is not None else None)
        after = column < value if descending else column > value
        if tiebreak is not None:
            beyond = tiebreak < last if descending else tiebreak > last
            after = or_(after, and_(column == value, beyond))
        query = query.where(after)
    ordering = [column.desc() if descending else column.asc()]
    if tiebreak is not None:
        ordering.append(tiebreak.desc() if descending else tiebreak.asc())
    return query.order_by(*ordering).limit(options.limit + 1)


def page(rows: Sequence[Row], options: ListOptions,
         position: Callable[[Row], tuple[Any, Any]]) -> tuple[list[Row], str]:
    """The page's rows and the token of the next page ("" when this is the last)."""
    if len(rows) <= options.limit:
        return list(rows), ""
    kept = list(rows[:options.limit])
    value, last = position(kept[-1])
    if isinstance(value, dt.datetime):
        value = {"t": aware(value).isoformat()}
    key, direction = order(options)
    body = {"k": key.value, "d": direction.value, "v": value, "i": last}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return kept, base64.urlsafe_b64encode(raw).decode().rstrip("=")


def order(options: ListOptions) -> tuple[SortKey, SortDirection]:
    """The order of checked options (checked() fills it in)."""
    assert options.sort_key is not None and options.direction is not None
    return options.sort_key, options.direction


def _decode(options: ListOptions, value_type: type,
            last_type: type | None) -> tuple[Any, Any]:
    bad = InvalidArgumentError("invalid page token: pass the token of the previous page "
                               "unchanged, or none for the first page")
    token = options.token
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        if not isinstance(body, dict) or set(body) != {"k", "d", "v", "i"}:
            raise bad
        value = body["v"]
        if isinstance(value, dict):
            value = aware(dt.datetime.fromisoformat(value["t"]))
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    key, direction = order(options)
    if (body["k"], body["d"]) != (key.value, direction.value):
        raise InvalidArgumentError(
            f"the page token belongs to a listing sorted by {body['k']} {body['d']}; repeat "
            "the sort_by of the first page with its token")
    last = body["i"]
    # The token's values go into SQL: they must have the columns' types (PostgreSQL
    # refuses to compare text with a number), and text must be storable text.
    if not _fits(value, value_type) or not (
            last is None if last_type is None else _fits(last, last_type)):
        raise bad
    return value, last


def _fits(value: Any, expected: type) -> bool:
    if isinstance(value, bool) or not isinstance(value, expected):
        return False
    return not (isinstance(value, str) and "\x00" in value)
