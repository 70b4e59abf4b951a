"""What routes get injected: the store, and the paging/sorting/filtering of listings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Query, Request

from serve.control.executions import ExecutionService
from serve.store import MAX_LIMIT, AdminStore, ListOptions, SortDirection, SortKey


def get_store(request: Request) -> AdminStore:
    store: AdminStore = request.app.state.store
    return store


Store = Annotated[AdminStore, Depends(get_store)]


def get_executions(request: Request) -> ExecutionService:
    service: ExecutionService = request.app.state.executions
    return service


Executions = Annotated[ExecutionService, Depends(get_executions)]


def list_options(default_key: SortKey, default_direction: SortDirection,
                 name_filters: bool = True) -> Callable[..., ListOptions]:
    """A dependency reading ``limit``, ``token``, ``sort_by.key``, ``sort_by.direction``
    and (with ``name_filters``) ``name`` and ``name_contains`` from the query, with this
    listing's default order."""

    def paging(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 100,
        token: Annotated[str, Query(max_length=2048, description="The previous page's "
                                    "token; empty for the first page.")] = "",
        sort_key: Annotated[SortKey, Query(alias="sort_by.key")] = default_key,
        direction: Annotated[SortDirection, Query(alias="sort_by.direction")] =
            default_direction,
    ) -> ListOptions:
        return ListOptions(limit=limit, token=token, sort_key=sort_key, direction=direction)

    # Depends() as a default, not in the annotation: annotations are evaluated in the
    # module's globals, where the local ``paging`` is not.
    def filtered(
        options: ListOptions = Depends(paging),  # noqa: B008
        name: Annotated[str | None, Query(max_length=512, description="Only this name.")]
            = None,
        name_contains: Annotated[str | None, Query(max_length=512, description="Only "
                                 "names containing this text.")] = None,
    ) -> ListOptions:
        return replace(options, name=name, name_contains=name_contains)

    return filtered if name_filters else paging


NEWEST_FIRST = list_options(SortKey.CREATED_AT, SortDirection.DESCENDING)
# For the versions of one name, whose path already holds the name.
NEWEST_FIRST_UNFILTERED = list_options(SortKey.CREATED_AT, SortDirection.DESCENDING,
                                       name_filters=False)
BY_NAME = list_options(SortKey.NAME, SortDirection.ASCENDING)
