"""FlyteRecoverableException is retried beyond the task's retries; other errors are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.dag.run.executor import RECOVERABLE_RETRIES, run
from engine.dag.run.state import NodePhase
from engine.errors import ErrorKind, NodeFailedError
from tests.fixtures import children_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_a_recoverable_error_is_retried_even_without_retries(tmp_path: Path) -> None:
    result = run(children_wfs.recovers.compile(), {"directory": str(tmp_path), "failures": 2})
    assert result.outputs == 2  # the third attempt succeeded
    (node,) = result.record.nodes.values()
    assert [a.outcome for a in node.attempts] == [NodePhase.FAILED, NodePhase.FAILED,
                                                  NodePhase.SUCCEEDED]
    assert node.attempts[0].error_kind is ErrorKind.USER
    assert "FlyteRecoverableException: transient failure 0" in (node.attempts[0].error or "")


def test_recoverable_retries_are_bounded(tmp_path: Path) -> None:
    failures = RECOVERABLE_RETRIES + 1
    with pytest.raises(NodeFailedError, match=f"after {failures} attempts"):
        children_wfs.recovers(directory=str(tmp_path), failures=failures)


def test_another_user_error_is_not_retried_beyond_retries() -> None:
    result = None
    with pytest.raises(NodeFailedError, match="after 1 attempt with a USER error") as info:
        result = run(children_wfs.fails_once.compile(), {})
    assert result is None and "RuntimeError: not recoverable" in str(info.value)
