"""``current_context()``: facts about the running task, as flytekit's ExecutionParameters."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.memo import CacheSettings
from engine.config import load_settings
from engine.dag.run.checkpoint import Checkpoint
from engine.dag.run.secrets import SecretsManager, provided_directory
from engine.dag.spec.task import SecretRequest
from engine.deck.deck import Deck, default_deck


def _provided_secrets_dir() -> str | None:
    """Secrets a test provided: the running task's (it drives a sub-DAG), else this
    process's (see engine.testing.provide_secrets)."""
    running = _CURRENT.get()
    if running is not None:
        return running.secrets_dir
    provided = provided_directory()
    return str(provided) if provided is not None else None


@dataclass(frozen=True)
class ExecutionParameters:
    """What a running task may ask about its execution.

    Attributes:
        execution_id: name of the execution ("local" outside any execution).
        execution_date: when the execution started.
        node_id: id of the node running this task.
        task_name: name of the task.
        attempt_number: 0 for the first attempt, 1 for the first retry, ...
    """

    execution_id: str = "local"
    execution_date: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    node_id: str = ""
    task_name: str = ""
    attempt_number: int = 0
    # The secrets the task requested; None outside executions.
    secret_requests: tuple[SecretRequest, ...] | None = None
    # Directory of the secrets a test provided (engine.testing.provide_secrets), read
    # first; set where the parameters are built, so it travels to the node with them.
    secrets_dir: str | None = field(default_factory=_provided_secrets_dir)
    # The decks this attempt made (``Deck(...)``, ``default_deck``), stored after it when
    # its task has enable_deck. Fresh per attempt: replace() builds init=False fields anew.
    decks: list[Deck] = field(default_factory=list, init=False, compare=False, repr=False)

    @property
    def default_deck(self) -> Deck:
        """The attempt's "default" deck, as flytekit's; made on first use."""
        return default_deck(self.decks)

    @property
    def logging(self) -> logging.Logger:
        return logging.getLogger("flyray.user")

    @property
    def scratch_path(self) -> Path:
        """Where this attempt's scratch directory is (not created); removed after it ends."""
        return Path(os.path.join(tempfile.gettempdir(), "flyray", self.execution_id,
                                 f"{self.node_id or 'local'}-{self.attempt_number}"))

    @property
    def working_directory(self) -> Path:
        """A scratch directory private to this attempt, created on first use."""
        path = self.scratch_path
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def checkpoint(self) -> Checkpoint:
        """This node's checkpoints: write this attempt's, read the last earlier one's."""
        node = current_node()
        storage = node[1].storage if node is not None else \
            StorageConfig.from_settings(load_settings())
        return Checkpoint(BlobStore(storage), self.execution_id, self.node_id,
                          self.attempt_number, self.scratch_path)

    @property
    def secrets(self) -> SecretsManager:
        """The task's secrets (see :mod:`engine.dag.run.secrets`)."""
        provided = Path(self.secrets_dir) if self.secrets_dir else None
        return SecretsManager(load_settings().secrets_path, self.secret_requests, self.task_name,
                              provided, mounts=self.scratch_path / ".secrets")


@dataclass(frozen=True)
class NodeServices:
    """How a node attempt reaches durable data and the control plane; plain data sent
    with every node."""

    storage: StorageConfig
    cache: CacheSettings
    # The admin API that reference nodes launch their entities on, and its bearer token:
    # the settings of the process driving the execution, so that workers started before
    # they changed need none of their own ("": the worker's own settings).
    admin_endpoint: str = ""
    admin_token: str | None = None
    # Where node attempts write raw outputs (files, directories, dataframes): a URI in
    # the blob store ("": its ``raw/`` area). Remote executions with a raw-output prefix
    # set it (``serve.driver.driving``).
    raw_output_prefix: str = ""


# The node attempt running in this thread, for work it fans out (map tasks, child runs);
# set by the worker around each attempt.
NODE: contextvars.ContextVar[tuple[ExecutionParameters, NodeServices] | None] = \
    contextvars.ContextVar("flyray_node", default=None)


def current_node() -> tuple[ExecutionParameters, NodeServices] | None:
    """Parameters and services of the node attempt being run here, if any."""
    return NODE.get()


_CURRENT: contextvars.ContextVar[ExecutionParameters | None] = contextvars.ContextVar(
    "flyray_execution", default=None
)


# Set while the body of an @eager task runs: how a task call there is submitted (it
# returns an awaitable of the task's outputs instead of running in-process).
EAGER_SUBMIT: contextvars.ContextVar[Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]
                                     | None] = contextvars.ContextVar("flyray_eager", default=None)


def current_context() -> ExecutionParameters:
    """The context of the task being run, or a local one outside executions."""
    return _CURRENT.get() or ExecutionParameters()


def enter_context(params: ExecutionParameters) -> contextvars.Token[ExecutionParameters | None]:
    return _CURRENT.set(params)


def exit_context(token: contextvars.Token[ExecutionParameters | None]) -> None:
    _CURRENT.reset(token)
