"""What routes get injected: the store, and the paging/sorting/filtering of listings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from serve.api.params import Name
from serve.control.executions import ExecutionService
from serve.errors import InvalidArgumentError
from serve.store import MAX_LIMIT, AdminStore, ListOptions, SortDirection, SortKey


def get_store(request: Request) -> AdminStore:
    store: AdminStore = request.app.state.store
    return store


Store = Annotated[AdminStore, Depends(get_store)]


def get_executions(request: Request) -> ExecutionService:
    service: ExecutionService = request.app.state.executions
    return service


Executions = Annotated[ExecutionService, Depends(get_executions)]


def get_blob_root(request: Request) -> str:
    """The server's blob store root: every URI a client gives must be under it."""
    return str(request.app.state.settings.blob_root_uri)


BlobRoot = Annotated[str, Depends(get_blob_root)]
NameFilters = Literal["entity", "text"] | None


_NO_NUL = r"^[^\x00]*$"
# A name filter of a listing of entities must be a valid name; other listings (projects,
# executions, schedules) match any text.
Text = Annotated[str | None, Query(max_length=512, pattern=_NO_NUL,
                                   description="Only this name (at most 512 characters).")]
Contains = Annotated[str | None, Query(max_length=512, pattern=_NO_NUL, description=(
    "Only names containing this text (at most 512 characters)."))]


def list_options(default_key: SortKey, default_direction: SortDirection,
                 keys: Sequence[SortKey], name_filters: NameFilters = "text"
                 ) -> Callable[..., ListOptions]:
    """A dependency reading ``limit``, ``token``, ``sort_by.key`` (one of ``keys``),
    ``sort_by.direction`` and (unless ``name_filters`` is None) ``name`` and
    ``name_contains`` from the query, with this listing's default order. ``name`` is an
    entity name (``"entity"``) or any text (``"text"``)."""
    allowed = [k.value for k in keys]

    def paging(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 100,
        token: Annotated[str, Query(max_length=2048, description="The previous page's "
                                    "token; empty for the first page.")] = "",
        # A default, not an annotation: the listing's keys are this call's (annotations
        # are evaluated in the module's globals).
        sort_key: str = Query(default_key.value, alias="sort_by.key",  # noqa: B008
                              json_schema_extra={"enum": allowed}),
        direction: Annotated[SortDirection, Query(alias="sort_by.direction")] =
            default_direction,
    ) -> ListOptions:
        if sort_key not in allowed:
            raise InvalidArgumentError(f"cannot sort this listing by {sort_key!r}; "
                                       f"sort_by.key is one of {allowed}")
        return ListOptions(limit=limit, token=token, sort_key=SortKey(sort_key),
                           direction=direction)

    # Depends() as a default, not in the annotation: annotations are evaluated in the
    # module's globals, where the local ``paging`` is not.
    def by_entity_name(options: ListOptions = Depends(paging),  # noqa: B008
                       name: Annotated[Name | None, Query()] = None,
                       name_contains: Contains = None) -> ListOptions:
        return replace(options, name=name, name_contains=name_contains)

    def by_text(options: ListOptions = Depends(paging),  # noqa: B008
                name: Text = None, name_contains: Contains = None) -> ListOptions:
        return replace(options, name=name, name_contains=name_contains)

    chosen: dict[NameFilters, Callable[..., ListOptions]] = {
        None: paging, "entity": by_entity_name, "text": by_text}
    return chosen[name_filters]


ALL_KEYS = tuple(SortKey)
# Versions of entities; for the versions of one name, whose path already holds the name.
ENTITIES = list_options(SortKey.CREATED_AT, SortDirection.DESCENDING, ALL_KEYS, "entity")
ENTITY_VERSIONS = list_options(SortKey.CREATED_AT, SortDirection.DESCENDING, ALL_KEYS, None)
ENTITY_NAMES = list_options(SortKey.NAME, SortDirection.ASCENDING, (SortKey.NAME,), "entity")
EXECUTIONS = list_options(SortKey.CREATED_AT, SortDirection.DESCENDING,
                          (SortKey.CREATED_AT, SortKey.NAME))
PROJECTS = list_options(SortKey.NAME, SortDirection.ASCENDING,
                        (SortKey.NAME, SortKey.CREATED_AT))
SCHEDULES = list_options(SortKey.NAME, SortDirection.ASCENDING, (SortKey.NAME,))
