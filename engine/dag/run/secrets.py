"""Secrets a task asked for, read where it runs, as flytekit's SecretsManager.

A value comes from the environment variable ``_FSEC_<GROUP>_<KEY>`` (upper case)
or from the file ``<secrets dir>/<group>/<key>`` on the machine running the task
(``$FLYRAY_HOME/secrets`` by default, ``FLYRAY_SECRETS_DIR``). Inside an execution a
task reads only the secrets in its ``secret_requests``. Values are never written to
records, specs, logs or error messages.

A request mounted ``ENV_VAR`` or ``FILE`` (``Secret.MountType``) is also put where
flytekit's would be while each attempt of the task runs (:func:`mounted`): in the
environment variable above, or in a file private to the attempt whose path
``get_secrets_file`` gives; both are removed when the attempt ends.

Tests give values with ``engine.testing.provide_secrets()``: it writes them to a private
temporary directory, read first, whose path (never a value) travels to the nodes of an
execution in ``ExecutionParameters.secrets_dir``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.dag.spec.task import SecretRequest
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

    def __init__(self, directory: Path, requested: tuple[SecretRequest, ...] | None,
                 task: str = "", provided: Path | None = None,
                 mounts: Path | None = None) -> None:
        self.directory = directory
        # Secrets given by a test (engine.testing.provide_secrets), read first.
        self.provided = provided
        # None outside executions: a task called in-process may read any secret.
        self.requested = requested
        self.task = task
        # Where the attempt's secrets mounted FILE are (see mounted()); None: none are.
        self.mounts = mounts

    def get_secrets_env_var(self, group: str, key: str | None = None,
                            group_version: str | None = None) -> str:
        return ENV_PREFIX + "_".join(p.upper() for p in (group, key) if p)

    def get_secrets_file(self, group: str, key: str | None = None,
                         group_version: str | None = None) -> Path:
        """Where the secret is as a file: the attempt's own copy for a secret mounted FILE,
        else the secrets directory's."""
        request = self._request(group, key)
        mounted_file = request is not None and request.mount == "FILE"
        base = self.mounts if mounted_file and self.mounts is not None else self.directory
        return base / group / key if key else base / group

    def get(self, group: str, key: str | None = None, group_version: str | None = None,
            encode_mode: str = "r") -> str | bytes:
        """The secret's value; raises SecretError (never showing a value) if unavailable."""
        name = f"{group}/{key}" if key else group
        if self.requested is not None and self._request(group, key) is None:
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
        path = self.directory / group / key if key else self.directory / group
        if path.is_file():
            data = path.read_bytes()
            return data if "b" in encode_mode else data.decode().rstrip("\n")
        raise SecretError(
            f"secret '{name}' is not set where the task runs: set the environment variable "
            f"{env} or write the file {path}"
        )

    def _request(self, group: str, key: str | None) -> SecretRequest | None:
        """The task's request for this secret, if it made one."""
        return next((r for r in self.requested or ()
                     if r.group == group and r.key == (key or "")), None)


@contextmanager
def mounted(manager: SecretsManager) -> Iterator[None]:
    """Within the block, the task's secrets mounted ENV_VAR are in the environment and
    those mounted FILE are files readable by this user only, where the manager's
    ``get_secrets_env_var`` and ``get_secrets_file`` say, as flytekit mounts them.

    Invariant: on exit the environment is as it was and the files are gone (workers run
    many attempts, of other tasks too). Raises SecretError if a secret is unavailable.
    """
    requests = [r for r in manager.requested or () if r.mount != "ANY"]
    if not requests:
        yield
        return
    saved: dict[str, str | None] = {}
    try:
        for request in requests:
            key = request.key or None
            if request.mount == "ENV_VAR":
                name = manager.get_secrets_env_var(request.group, key)
                value = manager.get(request.group, key)
                saved.setdefault(name, os.environ.get(name))
                os.environ[name] = value if isinstance(value, str) else os.fsdecode(value)
            elif manager.mounts is not None:  # else the secrets directory's file is it
                _write_private(manager.mounts, manager.get_secrets_file(request.group, key),
                               manager.get(request.group, key, encode_mode="rb"))
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        if manager.mounts is not None:
            shutil.rmtree(manager.mounts, ignore_errors=True)


def _write_private(root: Path, path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` under ``root``, in directories only this user may enter."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
