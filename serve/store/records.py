"""What the admin store returns and takes: plain frozen data, never ORM rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from engine.dag.spec import Identifier

T = TypeVar("T")

DEFAULT_DOMAINS = ("development", "staging", "production")
# The most items a listing returns per page.
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Domain:
    id: str
    name: str


@dataclass(frozen=True)
class Project:
    """A project and its domains (in declaration order)."""

    id: str
    name: str
    description: str
    domains: tuple[Domain, ...]
    created_at: dt.datetime | None = None  # None until stored


@dataclass(frozen=True)
class Entity:
    """A registered task, workflow or launch plan."""

    id: Identifier
    # The spec's JSON form, as stored (normalised by the spec's own to_dict).
    spec: dict[str, Any]
    created_at: dt.datetime
    # Where the entity's code bundle lives, when it was registered with one.
    code_uri: str | None


class LaunchPlanState(str, Enum):
    """Activation of one launch plan version; at most one version of a name is ACTIVE."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class LaunchPlanEntity(Entity):
    """A registered launch plan version and its activation state."""

    state: LaunchPlanState
    state_updated_at: dt.datetime


@dataclass(frozen=True)
class NamedEntity:
    """One name under which versions of an entity are registered."""

    project: str
    domain: str
    name: str


class SortDirection(str, Enum):
    ASCENDING = "ASCENDING"
    DESCENDING = "DESCENDING"


class SortKey(str, Enum):
    NAME = "name"
    VERSION = "version"
    CREATED_AT = "created_at"


@dataclass(frozen=True)
class ListOptions:
    """Paging, order and filters of a listing.

    Attributes:
        limit: most items per page, 1 to ``MAX_LIMIT``.
        token: the ``token`` of the previous page ("" for the first page).
        sort_key, direction: the order (None: the listing's own default, newest first
            for entities, by name for names and projects); ties are broken by
            registration order.
        name: only entities of exactly this name.
        name_contains: only entities whose name contains this text.
    """

    limit: int = 100
    token: str = ""
    sort_key: SortKey | None = None
    direction: SortDirection | None = None
    name: str | None = None
    name_contains: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``token`` fetches the next one ("" on the last page)."""

    items: list[T] = field(default_factory=list)
    token: str = ""
