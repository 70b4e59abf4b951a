"""Persistence of the control plane: SQLAlchemy over SQLite (embedded) or PostgreSQL."""

from __future__ import annotations

from serve.store.admin import AdminStore
from serve.store.records import (
    DEFAULT_DOMAINS,
    Domain,
    Entity,
    LaunchPlanEntity,
    ListOptions,
    NamedEntity,
    Page,
    Project,
    SortDirection,
    SortKey,
)

__all__ = [
    "DEFAULT_DOMAINS",
    "AdminStore",
    "Domain",
    "Entity",
    "LaunchPlanEntity",
    "ListOptions",
    "NamedEntity",
    "Page",
    "Project",
    "SortDirection",
    "SortKey",
]
