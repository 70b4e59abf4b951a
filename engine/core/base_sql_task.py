"""``SQLTask``: a query template as a task, as flytekit's ``flytekit.core.base_sql_task``.

``{{ .inputs.x }}`` in ``query_template`` becomes input ``x`` (as ``str(x)``) when the
query runs; :meth:`SQLTask.get_query` renders it. The base class runs no query: a
plugin subclass (``SQLite3Task``) overrides ``execute``; in tests the task is mocked
with ``engine.testing.task_mock``, as flytekit's docs do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from engine.core.base_task import Interface, PythonTask, TaskMetadata
from engine.errors import ConfigError, NotYetSupportedError

T = TypeVar("T")

__all__ = ["SQLTask"]


class SQLTask(PythonTask[T]):
    """A task whose body is a templated SQL query (see the module docstring)."""

    _INPUT_REGEX = re.compile(r"({{\s*.inputs.(\w+)\s*}})", re.IGNORECASE)

    def __init__(
        self,
        name: str,
        query_template: str,
        task_config: T | None = None,
        task_type: str = "sql_task",
        inputs: Mapping[str, Any] | None = None,
        metadata: TaskMetadata | None = None,
        outputs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Args as flytekit's; ``inputs`` and ``outputs`` are ``kwtypes(...)`` (an input
        may be ``(type, default)``); the rest as :class:`PythonTask`'s."""
        if not isinstance(query_template, str) or not query_template.strip():
            raise ConfigError(f"SQLTask '{name}': query_template must be a non-empty SQL "
                              f"string, got {query_template!r}")
        super().__init__(task_type=task_type, name=name, task_config=task_config,
                         interface=Interface(inputs=inputs or {}, outputs=outputs or {}),
                         metadata=metadata, **kwargs)
        # One line, as flytekit keeps it: whitespace runs become one blank.
        self._query_template = re.sub(r"\s+", " ", query_template).strip()
        unknown = sorted({m.group(2) for m in self._INPUT_REGEX.finditer(self._query_template)}
                         - set(self.python_interface.inputs))
        if unknown:
            raise ConfigError(
                f"SQLTask '{name}': the query uses {{{{ .inputs.{unknown[0]} }}}} but the task "
                f"has no such input; its inputs are {list(self.python_interface.inputs)}")

    @property
    def query_template(self) -> str:
        return self._query_template

    def execute(self, **kwargs: Any) -> Any:
        raise NotYetSupportedError(
            f"SQLTask '{self.name}' cannot run natively: use a plugin task that runs its "
            "query (SQLite3Task), or mock it in tests with engine.testing.task_mock")

    def get_query(self, **kwargs: Any) -> str:
        """The query with the inputs ``kwargs`` in place of their templates."""
        return self.interpolate_query(self.query_template, **kwargs)

    def get_custom(self, settings: Any = None) -> dict[str, Any] | None:
        return {"query_template": self.query_template}

    @classmethod
    def interpolate_query(cls, query_template: str, **kwargs: Any) -> str:
        """``query_template`` with each ``{{ .inputs.x }}`` replaced by ``str(kwargs[x])``;
        every input given must be used (flytekit's rule: a typo fails loudly)."""
        query = query_template
        matched: set[str] = set()
        for match in cls._INPUT_REGEX.finditer(query_template):
            expr, var = match.groups()
            if var not in kwargs:
                raise ValueError(f"variable '{var}' in the query (part of {expr}) is not "
                                 f"among the inputs {sorted(kwargs)}")
            matched.add(var)
            query = query.replace(expr, str(kwargs[var]))
        extra = set(kwargs) - matched
        if extra:
            raise ValueError(f"input(s) {sorted(extra)} have no match in the query template; "
                             "use each as {{ .inputs.NAME }}")
        return query
