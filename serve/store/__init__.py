"""Persistence of the control plane: SQLAlchemy over SQLite (embedded) or PostgreSQL.

``AdminStore`` (``admin.py``) is the one interface the rest of the control plane uses.
Each resource has one module of data functions that take a session (``projects``,
``entities``, ``launch_plans``, ``executions``, ``node_executions``, ``drivers``,
``schedules``); the store binds them as its methods. ORM rows (``_models``) never leave
this package: methods take and return the plain records of ``records``,
``execution_records`` and ``schedule_records``.
"""

from __future__ import annotations

from serve.store.admin import AdminStore
from serve.store.records import (
    DEFAULT_DOMAINS,
    MAX_LIMIT,
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
    "MAX_LIMIT",
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
