"""SQLite queries as tasks, as flytekit's ``flytekit.extras.sqlite3``."""

from __future__ import annotations

from engine.extras.sqlite3.task import SQLite3Config, SQLite3Task

__all__ = ["SQLite3Config", "SQLite3Task"]
