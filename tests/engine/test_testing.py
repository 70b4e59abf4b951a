"""engine.testing: task_mock and patch in direct calls and workflow runs; provide_secrets."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from engine.dag.run.context import current_context
from engine.dag.run.executor import run
from engine.dag.run.secrets import provided_directory
from engine.dag.run.state import NodePhase
from engine.errors import ConfigError, ErrorKind, InterfaceError, NodeFailedError, SecretError
from engine.testing import SecretsManager, patch, provide_secrets, task_mock
from tests.fixtures import testing_wfs as wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")

TOKEN = "tok-3f9a-never-shown"


# --- task_mock: direct calls -------------------------------------------------------------


def test_a_direct_call_calls_the_mock_with_inputs_by_name() -> None:
    with task_mock(wfs.fetch) as m:
        m.return_value = 7
        assert wfs.fetch(x=3) == 7
        assert wfs.fetch(4) == 7
    assert m.call_args_list == [((), {"x": 3}), ((), {"x": 4})]


def test_a_direct_call_of_a_multi_output_task_returns_its_named_tuple() -> None:
    with task_mock(wfs.stats) as m:
        m.return_value = (2.5, 4)
        result = wfs.stats(xs=[1, 2])
    assert isinstance(result, wfs.Stats) and result == wfs.Stats(2.5, 4)
    m.assert_called_once_with(xs=[1, 2], scale=1)  # defaults applied


def test_a_mock_returning_a_wrong_type_is_a_clear_error_in_a_direct_call() -> None:
    with task_mock(wfs.double) as m, pytest.raises(InterfaceError) as info:
        wfs.double(x=1)  # the default return_value is a MagicMock, not an int
    message = str(info.value)
    assert "the mock of task 'tests.fixtures.testing_wfs.double'" in message
    assert "output 'o0'" in message and "return_value" in message
    m.assert_called_once_with(x=1)


def test_mocks_are_removed_after_the_scope_and_nested_ones_restore_the_outer() -> None:
    with task_mock(wfs.double) as outer:
        outer.return_value = 100
        with task_mock(wfs.double) as inner:
            inner.return_value = 200
            assert wfs.double(x=1) == 200
        assert wfs.double(x=1) == 100
    assert wfs.double(x=1) == 2
    assert wfs.chain(x=3) == 7  # the real task runs in workflows again


def test_only_tasks_can_be_mocked() -> None:
    with pytest.raises(TypeError, match="mocks a task declared with @task"), \
            task_mock(wfs.pipeline):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError, match="mocks a task declared with @task"):
        patch(wfs.pipeline)  # type: ignore[arg-type]


# --- task_mock: workflow runs on Ray -------------------------------------------------------


def test_a_mocked_node_gets_upstream_values_and_feeds_downstream_ones() -> None:
    with task_mock(wfs.fetch) as m:
        m.return_value = 10
        assert wfs.pipeline(x=4) == 11  # add_one ran for real on the mock's output
    m.assert_called_once_with(x=8)  # double ran for real upstream


def test_the_mocked_node_runs_in_this_process_and_the_others_on_workers() -> None:
    with task_mock(wfs.fetch) as m:
        m.return_value = 10
        result = run(wfs.pipeline.compile(), {"x": 4})
    record = result.record
    assert result.outputs == 11
    assert all(n.phase is NodePhase.SUCCEEDED for n in record.nodes.values())
    mocked = record.nodes["n1"].attempts[-1]
    assert mocked.worker is not None and mocked.worker["pid"] == os.getpid()
    assert mocked.cache_status == "DISABLED"
    for real in ("n0", "n2"):
        worker = record.nodes[real].attempts[-1].worker
        assert worker is not None and worker["pid"] != os.getpid()


def test_multi_output_mocks_feed_each_output_downstream() -> None:
    with task_mock(wfs.stats) as m:
        m.return_value = wfs.Stats(mean=2.5, count=4)
        assert wfs.stats_wf(xs=[1, 2, 3, 4]) == "4 values, mean 2.5"
    m.assert_called_once_with(xs=[1, 2, 3, 4], scale=1)


def test_a_mock_inside_a_sub_workflow_is_used() -> None:
    with task_mock(wfs.fetch) as m:
        m.return_value = 5
        assert wfs.outer(x=1) == 6
    m.assert_called_once_with(x=1)


def test_a_reference_task_can_be_mocked_in_a_workflow() -> None:
    with task_mock(wfs.lookup) as m:
        m.return_value = 41
        assert wfs.with_reference(key="answer") == 42
    m.assert_called_once_with(key="answer")


def test_a_mock_raising_fails_the_workflow_with_a_user_error() -> None:
    with task_mock(wfs.fetch) as m:
        m.side_effect = ValueError("service down")
        with pytest.raises(NodeFailedError) as info:
            wfs.fetch_last(x=1)
    error = info.value
    assert error.node_id == "n1" and error.task == "tests.fixtures.testing_wfs.fetch"
    assert error.kind is ErrorKind.USER and error.attempts == 1
    assert "ValueError: service down" in error.cause
    m.assert_called_once_with(x=2)


def test_a_mock_returning_a_wrong_type_fails_its_node() -> None:
    with task_mock(wfs.fetch) as m:
        m.return_value = "ten"
        with pytest.raises(NodeFailedError) as info:
            wfs.fetch_last(x=1)
    assert info.value.node_id == "n1" and info.value.kind is ErrorKind.USER
    assert "the mock of task 'tests.fixtures.testing_wfs.fetch' returned a bad value for " \
           "output 'o0'" in info.value.cause


def test_a_mocked_node_is_retried_and_each_attempt_calls_the_mock() -> None:
    with task_mock(wfs.fetch_with_retry) as m:
        m.side_effect = [ValueError("flaky"), 5]
        result = run(wfs.retrying.compile(), {"x": 1})
    assert result.outputs == 6
    assert m.call_count == 2
    first, second = result.record.nodes["n0"].attempts
    assert first.outcome is NodePhase.FAILED and first.error_kind is ErrorKind.USER
    assert first.error is not None and "ValueError: flaky" in first.error
    assert second.outcome is NodePhase.SUCCEEDED


def test_a_failed_upstream_of_a_mocked_node_is_the_failure_reported() -> None:
    with task_mock(wfs.fetch) as m, pytest.raises(NodeFailedError) as info:
        wfs.after_broken(x=3)
    assert info.value.node_id == "n0" and "ValueError: broken on 3" in info.value.cause
    m.assert_not_called()


# --- patch ---------------------------------------------------------------------------------


@patch(wfs.fetch)
def test_patch_passes_the_mock_to_the_test(mock_fetch: MagicMock) -> None:
    mock_fetch.return_value = 1
    assert wfs.pipeline(x=1) == 2
    mock_fetch.assert_called_once_with(x=2)


@patch(wfs.fetch)
@patch(wfs.double)
def test_stacked_patches_pass_mocks_innermost_first_and_fixtures_still_work(
    mock_double: MagicMock, mock_fetch: MagicMock, tmp_path: Path
) -> None:
    assert tmp_path.is_dir()  # pytest saw the signature without the mocks
    mock_double.return_value = 3
    mock_fetch.return_value = 30
    assert wfs.pipeline(x=1) == 31
    mock_double.assert_called_once_with(x=1)
    mock_fetch.assert_called_once_with(x=3)


class TestPatchOnMethods:
    @patch(wfs.double)
    def test_the_mock_comes_after_self(self, mock_double: MagicMock, tmp_path: Path) -> None:
        assert isinstance(self, TestPatchOnMethods) and tmp_path.is_dir()
        mock_double.return_value = 0
        assert wfs.double(x=5) == 0


def test_patch_keeps_the_other_parameters_visible_and_restores_the_task() -> None:
    seen: list[Any] = []

    @patch(wfs.double)
    def body(mock_double: MagicMock, offset: int) -> None:
        mock_double.return_value = 40
        seen.append(wfs.double(x=1) + offset)

    assert list(inspect.signature(body).parameters) == ["offset"]
    body(2)
    assert seen == [42]
    assert wfs.double(x=1) == 2


def test_patch_needs_a_parameter_for_the_mock() -> None:
    def no_params() -> None:
        pass

    with pytest.raises(TypeError, match="first positional parameter"):
        patch(wfs.double)(no_params)


# --- provide_secrets -----------------------------------------------------------------------


def test_provided_secrets_are_read_by_a_direct_call_and_removed_after() -> None:
    with provide_secrets({("testing", "token"): TOKEN}):
        directory = provided_directory()
        assert wfs.read_token() == wfs.digest(TOKEN)
    assert directory is not None and not directory.exists()
    assert provided_directory() is None
    with pytest.raises(SecretError) as info:
        wfs.read_token()
    assert "testing/token" in str(info.value)


def test_provided_secrets_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_FSEC_TESTING_TOKEN", "from-env")
    with provide_secrets({("testing", "token"): TOKEN}):
        assert wfs.read_token() == wfs.digest(TOKEN)
    assert wfs.read_token() == wfs.digest("from-env")


def test_bytes_values_groups_without_keys_and_nested_scopes() -> None:
    with provide_secrets({"solo": b"\x00raw\n", ("testing", "token"): "outer"}):
        with provide_secrets({("testing", "token"): "inner"}):
            secrets = current_context().secrets
            assert isinstance(secrets, SecretsManager)
            assert secrets.get("testing", "token") == "inner"
            assert secrets.get("solo", encode_mode="rb") == b"\x00raw\n"  # exact bytes
        assert current_context().secrets.get("testing", "token") == "outer"


def test_bad_secret_names_are_refused() -> None:
    for name in [("a", "../b"), ("", "k"), "a/b", ("g", "k", "x")]:
        with pytest.raises(ConfigError, match="bad secret name"), \
                provide_secrets({name: "v"}):  # type: ignore[dict-item]
            pass
    with pytest.raises(ConfigError, match="both a group and a secret"), \
            provide_secrets({"g": "v", ("g", "k"): "w"}):
        pass
    assert provided_directory() is None


def test_provided_secrets_reach_nodes_on_ray_and_never_the_record() -> None:
    with provide_secrets({("testing", "token"): TOKEN}):
        result = run(wfs.token_wf.compile(), {})
    assert result.outputs == wfs.digest(TOKEN)
    worker = result.record.nodes["n0"].attempts[-1].worker
    assert worker is not None and worker["pid"] != os.getpid()  # read in a Ray worker
    record = json.dumps(dataclasses.asdict(result.record), default=str)
    assert TOKEN not in record and TOKEN not in repr(result.record)
    assert TOKEN not in wfs.token_wf.compile().spec.to_json()


def test_a_node_still_cannot_read_a_secret_it_did_not_request() -> None:
    with provide_secrets({("testing", "token"): TOKEN, ("testing", "other"): TOKEN + "2"}), \
            pytest.raises(NodeFailedError) as info:
        wfs.other_wf()
    message = str(info.value)
    assert "did not request secret 'testing/other'" in message
    assert TOKEN not in message


def test_a_mocked_node_runs_in_its_node_context_with_the_provided_secrets() -> None:
    def side_effect() -> str:
        ctx = current_context()
        return f"{ctx.node_id}:{wfs.digest(ctx.secrets.get('testing', 'token'))}"

    with provide_secrets({("testing", "token"): TOKEN}), task_mock(wfs.read_token) as m:
        m.side_effect = side_effect
        assert wfs.token_wf() == f"n0:{wfs.digest(TOKEN)}"
