"""System failures draw on their own retry budget, apart from a task's ``retries``.

A task's ``retries`` count the failures its attempts report (user errors); an attempt
lost with its worker process draws on ``max_system_retries`` instead, as Flyte's
max-node-retries-system-failures. The tasks here kill their own worker with SIGKILL,
as an infrastructure event (an OOM kill, a lost node, a demo stop) would.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from engine import map_task, task, workflow
from engine.config import load_settings
from engine.dag.run.executor import run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord, NodePhase
from engine.errors import ConfigError, ErrorKind, NodeFailedError


def _kill_worker(marker: Path) -> None:
    """Leave ``marker`` behind, then kill this worker process as the kernel would."""
    marker.write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


@task
def dies_once(directory: str) -> int:
    """retries=0: loses its first attempt's worker, then succeeds."""
    marker = Path(directory, "died")
    if not marker.exists():
        _kill_worker(marker)
    return os.getpid()


@task
def always_dies(directory: str) -> int:
    _kill_worker(Path(directory, f"died-{len(os.listdir(directory))}"))
    return 0


@task(retries=1)
def dies_then_raises(directory: str) -> int:
    """Loses its first attempt's worker, then fails every later attempt itself."""
    marker = Path(directory, "died")
    if not marker.exists():
        _kill_worker(marker)
    raise ValueError("a bug in the task")


@task
def raises(x: int) -> int:
    raise ValueError(f"no good: {x}")


@task
def dies_once_in_a_map(x: int, directory: str) -> int:
    marker = Path(directory, "died")
    if not marker.exists():
        _kill_worker(marker)
    return x * 10


@workflow
def survives(directory: str) -> int:
    return dies_once(directory=directory)


@workflow
def never_survives(directory: str) -> int:
    return always_dies(directory=directory)


@workflow
def both_budgets(directory: str) -> int:
    return dies_then_raises(directory=directory)


@workflow
def user_error(x: int) -> int:
    return raises(x=x)


@workflow
def user_error_retried(x: int) -> int:
    return raises(x=x).with_overrides(retries=1)


@workflow
def map_survives(xs: list[int], directory: str) -> list[int]:
    return map_task(functools.partial(dies_once_in_a_map, directory=directory))(x=xs)


class RecordKeeper(ExecutionHooks):
    """Keeps the final record, which a failed run does not return."""

    record: ExecutionRecord | None = None

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.record = record


def _failing(wf: Any, inputs: dict[str, Any],
             max_system_retries: int = 3) -> tuple[NodeFailedError, ExecutionRecord]:
    keeper = RecordKeeper()
    settings = dataclasses.replace(load_settings(), max_system_retries=max_system_retries)
    with pytest.raises(NodeFailedError) as info:
        run(wf.compile(), inputs, hooks=[keeper], settings=settings)
    assert keeper.record is not None
    return info.value, keeper.record


# --- on Ray: a lost worker, user errors, both ---------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(90)
def test_a_lost_worker_is_retried_for_a_task_without_retries(tmp_path: Path) -> None:
    result = run(survives.compile(), {"directory": str(tmp_path)})

    lost, succeeded = result.record.nodes["n0"].attempts
    assert (lost.attempt, lost.outcome, lost.error_kind) == (1, NodePhase.FAILED,
                                                             ErrorKind.SYSTEM)
    assert (lost.error or "").startswith("WorkerCrashedError: ")
    assert (succeeded.attempt, succeeded.outcome) == (2, NodePhase.SUCCEEDED)
    assert result.outputs != int((tmp_path / "died").read_text())  # another process


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(90)
def test_a_worker_lost_every_time_fails_once_the_system_retries_are_spent(
        tmp_path: Path) -> None:
    error, record = _failing(never_survives, {"directory": str(tmp_path)},
                             max_system_retries=1)

    assert (error.kind, error.attempts) == (ErrorKind.SYSTEM, 2)
    assert "failed after 2 attempts with a SYSTEM error:\nWorkerCrashedError: " in str(error)
    assert "The node's 1 system retry is spent (max_system_retries=1)." in error.cause
    attempts = record.nodes["n0"].attempts
    assert [(a.outcome, a.error_kind) for a in attempts] == \
        [(NodePhase.FAILED, ErrorKind.SYSTEM)] * 2
    assert record.nodes["n0"].phase is NodePhase.FAILED
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(90)
def test_a_lost_worker_spends_none_of_the_task_retries(tmp_path: Path) -> None:
    error, record = _failing(both_budgets, {"directory": str(tmp_path)})

    # One system retry, then the task's one retry for its own error.
    assert (error.kind, error.attempts) == (ErrorKind.USER, 3)
    assert "ValueError: a bug in the task" in error.cause
    assert "The node's 1 retry is spent (retries=1)." in error.cause
    assert [a.error_kind for a in record.nodes["n0"].attempts] == \
        [ErrorKind.SYSTEM, ErrorKind.USER, ErrorKind.USER]


@pytest.mark.usefixtures("ray_cluster")
def test_a_user_error_spends_the_task_retries_only() -> None:
    error, record = _failing(user_error, {"x": 1})
    assert (error.kind, error.attempts) == (ErrorKind.USER, 1)
    assert "retries are spent" not in error.cause  # a task without retries: plainly final

    error, record = _failing(user_error_retried, {"x": 2})
    assert (error.kind, error.attempts) == (ErrorKind.USER, 2)
    assert "ValueError: no good: 2" in error.cause
    assert [a.error_kind for a in record.nodes["n0"].attempts] == [ErrorKind.USER] * 2


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(90)
def test_a_map_batch_lost_with_its_worker_runs_again_without_task_retries(
        tmp_path: Path) -> None:
    result = run(map_survives.compile(), {"xs": [1, 2], "directory": str(tmp_path)})

    assert result.outputs == [10, 20]
    assert (tmp_path / "died").exists()


# --- the setting ---------------------------------------------------------------------------


def test_max_system_retries_defaults_to_flytes_three(tmp_path: Path) -> None:
    assert load_settings({"FLYRAY_HOME": str(tmp_path)}).max_system_retries == 3


def test_max_system_retries_from_the_environment_over_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_system_retries = 5\n")
    assert load_settings({"FLYRAY_HOME": str(tmp_path)}).max_system_retries == 5
    env = {"FLYRAY_HOME": str(tmp_path), "FLYRAY_MAX_SYSTEM_RETRIES": "0"}
    assert load_settings(env).max_system_retries == 0


@pytest.mark.parametrize("value", ["-1", "two", "1.5", " "])
def test_a_bad_max_system_retries_is_a_config_error(tmp_path: Path, value: str) -> None:
    env = {"FLYRAY_HOME": str(tmp_path), "FLYRAY_MAX_SYSTEM_RETRIES": value}
    with pytest.raises(ConfigError, match=r"environment variable FLYRAY_MAX_SYSTEM_RETRIES: "
                                          r"max_system_retries must be a whole number >= 0"):
        load_settings(env)


@pytest.mark.parametrize("value", ["true", "2.5", '"-3"'])
def test_a_bad_max_system_retries_in_the_config_file_names_the_file(
        tmp_path: Path, value: str) -> None:
    (tmp_path / "config.toml").write_text(f"max_system_retries = {value}\n")
    with pytest.raises(ConfigError, match=f"{tmp_path / 'config.toml'}: max_system_retries"):
        load_settings({"FLYRAY_HOME": str(tmp_path)})
