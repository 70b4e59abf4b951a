"""Test helpers, as ``flytekit.testing``: mock tasks, provide secrets.

``task_mock(t)`` and ``@patch(t)`` replace the body of task ``t`` by a
:class:`unittest.mock.MagicMock` for every call this process makes: direct calls, and
the nodes of ``t`` in any workflow run from this process (sub-workflows and
conditional arms included). Those nodes run in this process, not in a Ray worker, so
the mock's assertions see every call; the other nodes run on Ray as usual, with the
mock's outputs flowing to them. The mock is called with the task's inputs by name
(defaults applied) and its ``return_value`` (or ``side_effect``) gives the outputs: one
value, or a tuple for several. A wrong type fails as a task returning it would; an
exception fails the node as user code's does (and retries call the mock again).
Mocked nodes never use the data catalog.

Not mocked: the nodes a Ray worker drives, that is the sub-DAG of a ``@dynamic`` task,
the tasks an ``@eager`` body awaits and the elements of a ``map_task``. They run the
real task (mock the ``@dynamic``, ``@eager`` task itself instead).

``provide_secrets({...})`` makes secrets readable through
``current_context().secrets.get(group, key)`` by tasks the test runs, in-process and
on Ray, with the usual isolation: a node reads only the secrets its task requested.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

from engine.core.base_task import PythonTask
from engine.core.task import PythonFunctionTask
from engine.dag.run import local_nodes
from engine.dag.run.secrets import SecretsManager, provided_directory, providing
from engine.errors import ConfigError

__all__ = ["SecretsManager", "patch", "provide_secrets", "task_mock"]


@contextmanager
def task_mock(t: PythonFunctionTask | PythonTask[Any]) -> Iterator[MagicMock]:
    """Within the block, every call of task ``t`` from this process calls a mock instead.

    Usage::

        with task_mock(t1) as m:
            m.return_value = 42
            assert my_wf(x=1) == 43
            m.assert_called_once_with(i=1)

    Args:
        t: a ``@task`` (also ``@dynamic``, ``@eager``, ``reference_task``) or a
            class-based task (a ``PythonTask`` such as ``SQLite3Task``).

    Yields:
        The MagicMock called in place of ``t``'s body.
    """
    _check_task(t, "task_mock")
    mock = MagicMock(name=f"task {t.name}")
    with local_nodes.standing_in(t, mock):
        yield mock


def patch(
    target: PythonFunctionTask | PythonTask[Any],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator form of :func:`task_mock`, as flytekit's: the test gets the mock.

    The mock is passed as the first positional argument (after ``self`` in a method);
    stacked decorators pass theirs innermost first. The decorated test's signature
    drops that parameter, so pytest injects fixtures into the others::

        @patch(t2)
        @patch(t1)
        def test_wf(mock_t1, mock_t2, tmp_path): ...
    """
    _check_task(target, "patch")

    def decorate(test: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(test)
        params = list(signature.parameters.values())
        at = 1 if params and params[0].name in ("self", "cls") else 0
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if len(params) <= at or params[at].kind not in positional:
            raise TypeError(
                f"@patch({target.name}) on '{test.__qualname__}': the test must take the mock "
                "as its first positional parameter (after self), e.g. def test_x(mock): ..."
            )

        @functools.wraps(test)
        def patched(*args: Any, **kwargs: Any) -> Any:
            with task_mock(target) as mock:
                return test(*args[:at], mock, *args[at:], **kwargs)

        # What pytest reads to choose fixtures: the test's parameters less the mock.
        patched.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=params[:at] + params[at + 1:])
        return patched

    return decorate


def _check_task(t: object, helper: str) -> None:
    if not isinstance(t, (PythonFunctionTask, PythonTask)):
        raise TypeError(
            f"{helper}() mocks a task declared with @task (or @dynamic, @eager, "
            f"reference_task) or a PythonTask (SQLite3Task, ...); got {t!r}. To stub a "
            "workflow, mock the tasks it calls."
        )


SecretName = tuple[str, str] | str


@contextmanager
def provide_secrets(values: Mapping[SecretName, str | bytes]) -> Iterator[None]:
    """Within the block, tasks run from this test read these secrets.

    Keys are ``(group, key)``, or ``group`` alone for a secret without a key. Values are
    written to a private temporary directory (removed on exit) that tasks read before the
    environment and the configured secrets directory: tasks called directly, and the
    nodes of workflows run in the block, on Ray too (the directory's path travels with
    each node, never a value, so the Ray nodes must share this machine's temporary
    directory, as a local test cluster does). A node still reads only the secrets its
    task requested. Blocks nest; the inner one's values win.

    Usage::

        with provide_secrets({("db", "password"): "hunter2"}):
            assert connect_wf() == "connected"
    """
    files = {_secret_path(name): value for name, value in values.items()}
    directory = Path(tempfile.mkdtemp(prefix="flyray-test-secrets-"))  # mode 0700
    try:
        outer = provided_directory()
        if outer is not None:
            shutil.copytree(outer, directory, dirs_exist_ok=True)
        for relative, value in files.items():
            path = directory / relative
            if path.is_dir() or any(p.is_file() for p in path.parents if directory in p.parents):
                raise ConfigError(f"provide_secrets: secret '{relative}' is both a group and "
                                  "a secret; give each group either keys or one value")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(value.encode() if isinstance(value, str) else value)
        with providing(directory):
            yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _secret_path(name: SecretName) -> str:
    """``group/key`` of a secret, each part checked to be one plain path segment."""
    parts = [name] if isinstance(name, str) else list(name)
    if not 1 <= len(parts) <= 2 or not all(
        isinstance(p, str) and p and p not in (".", "..") and "/" not in p and "\\" not in p
        for p in parts
    ):
        raise ConfigError(
            f"provide_secrets: bad secret name {name!r}; use (group, key) or group, each a "
            "non-empty name without '/'"
        )
    return "/".join(parts)
