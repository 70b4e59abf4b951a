"""Secrets a task asked for, read where it runs, as flytekit's SecretsManager.

A value comes from the environment variable ``_FSEC_<GROUP>_<KEY>`` (upper case)
or from the file ``<secrets dir>/<group>/<key>`` on the machine running the task
(``$FLYRAY_HOME/secrets`` by default, ``FLYRAY_SECRETS_DIR``). Inside an execution a
task reads only the secrets in its ``secret_requests``. Values are never written to
records, specs, logs or error messages.

Tests give values with ``engine.testing.provide_secrets()``: it writes them to a private
temporary directory, read first, whose path (never a value) travels to the nodes of an
execution in ``ExecutionParameters.secrets_dir``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import SecretError

ENV_PREFIX = "_FSEC_"

# The directory of secrets provided by the test running in this process, if any.
# Process-wide (not a ContextVar): workflows a test runs from other threads see it too.
_provided: Path | None = None


def provided_directory() -> Path | None:
    """Where ``engine.testing.provide_secrets()`` put its values in this process."""
    return _provided


@contextmanager
def providing(directory: Path) -> Iterator[None]:
    """Within the block, secrets files in ``directory`` are read first by tasks run from
    this process (an outer directory comes back afterwards)."""
    global _provided  # noqa: PLW0603  (a test-only override, restored on exit)
    previous, _provided = _provided, directory
    try:
        yield
    finally:
        _provided = previous


class SecretsManager:
    """``current_context().secrets``."""

    def __init__(self, directory: Path, requested: tuple[tuple[str, str], ...] | None,
                 task: str = "", provided: Path | None = None) -> None:
        self.directory = directory
        # Secrets given by a test (engine.testing.provide_secrets), read first.
        self.provided = provided
        # None outside executions: a task called in-process may read any secret.
        self.requested = requested
        self.task = task

    def get_secrets_env_var(self, group: str, key: str | None = None) -> str:
        return ENV_PREFIX + "_".join(p.upper() for p in (group, key) if p)

    def get_secrets_file(self, group: str, key: str | None = None) -> Path:
        return self.directory / group / key if key else self.directory / group

    def get(self, group: str, key: str | None = None, group_version: str | None = None,
            encode_mode: str = "r") -> str | bytes:
        """The secret's value; raises SecretError (never showing a value) if unavailable."""
        name = f"{group}/{key}" if key else group
        if self.requested is not None and (group, key or "") not in self.requested:
            raise SecretError(
                f"task '{self.task}' did not request secret '{name}'; add "
                f"Secret(group={group!r}, key={key!r}) to its secret_requests"
            )
        if self.provided is not None:
            given = self.provided / group / key if key else self.provided / group
            if given.is_file():
                data = given.read_bytes()
                return data if "b" in encode_mode else data.decode()
        env = self.get_secrets_env_var(group, key)
        value = os.environ.get(env)
        if value is not None:
            return value.encode() if "b" in encode_mode else value
        path = self.get_secrets_file(group, key)
        if path.is_file():
            data = path.read_bytes()
            return data if "b" in encode_mode else data.decode().rstrip("\n")
        raise SecretError(
            f"secret '{name}' is not set where the task runs: set the environment variable "
            f"{env} or write the file {path}"
        )
