"""Task logs of executions on the shared Ray cluster: every attempt of every node (map
elements too) logs what it printed and logged to the blob store, readable while it runs."""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import load_settings
from engine.dag.run.executor import ExecutionResult, run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodeRecord
from engine.errors import NodeFailedError
from engine.logs.store import LogStore, attempt_log_uri
from engine.testing import provide_secrets
from tests.fixtures import log_wfs as wfs

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.timeout(120)]

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _blobs() -> BlobStore:
    return BlobStore(StorageConfig.from_settings(load_settings()))


def _text(uri: str | None) -> str:
    assert uri is not None
    log = LogStore(_blobs()).read(uri)
    assert log.complete, log.text
    return log.text


class _Starts(ExecutionHooks):
    """Remembers each attempt as the driver starts it."""

    def __init__(self) -> None:
        self.attempts: list[AttemptRecord] = []
        self.uris: list[str | None] = []  # each attempt's log_uri when it started
        self.started = threading.Event()

    def on_attempt_start(self, record: ExecutionRecord, node: NodeRecord,
                         attempt: AttemptRecord) -> None:
        self.attempts.append(attempt)
        self.uris.append(attempt.log_uri)
        self.started.set()


def test_prints_stderr_and_logging_are_lines_with_timestamps_and_streams() -> None:
    starts = _Starts()
    result = run(wfs.talk.compile(), {"n": 3}, hooks=[starts])
    attempt = result.record.nodes["n0"].attempts[0]
    assert starts.attempts == [attempt]
    assert attempt.log_uri == attempt_log_uri(_blobs(), result.record.name, "n0", 1)
    lines = _text(attempt.log_uri).splitlines()
    assert all(re.match(STAMP + " ", line) for line in lines)
    body = [line[25:] for line in lines]
    assert re.fullmatch(rf"FLYRAY execution={result.record.name} node=n0 attempt=1 "
                        r"task=tests\.fixtures\.log_wfs\.chatty host=\S+ pid=\d+", body[0])
    assert body[1:] == [
        "OUT printed 3", "OUT two", "OUT lines", "OUT no line break yet ... now",
        "ERR to stderr", "INFO tests.chatty: logged at info: 3",
        "WARNING tests.chatty: a warning", "WARNING over two lines",
        "OUT from a thread the task started", "FLYRAY attempt ended: SUCCEEDED",
    ]


def test_a_running_attempts_first_lines_are_readable_before_it_ends(tmp_path: Path) -> None:
    starts, marker = _Starts(), tmp_path / "release"
    results: list[ExecutionResult] = []
    driver = threading.Thread(target=lambda: results.append(
        run(wfs.waits.compile(), {"marker": str(marker)}, hooks=[starts])))
    driver.start()
    try:
        assert starts.started.wait(60)
        uri, store = starts.attempts[0].log_uri, LogStore(_blobs())
        assert uri is not None
        deadline = time.monotonic() + 30
        while "first line" not in store.read(uri).text and time.monotonic() < deadline:
            time.sleep(0.1)
        running = store.read(uri)
        assert "OUT first line, before the wait" in running.text and not running.complete
    finally:
        marker.touch()
        driver.join(60)
    assert results and "OUT released" in _text(uri)


def test_a_retried_task_has_one_log_per_attempt_each_ending_as_it_did(tmp_path: Path) -> None:
    result = run(wfs.retried.compile(), {"directory": str(tmp_path)})
    attempts = result.record.nodes["n0"].attempts
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert len({a.log_uri for a in attempts}) == 3
    for number, attempt in enumerate(attempts, 1):
        text = _text(attempt.log_uri)
        assert f"attempt={number} " in text and f"OUT try {number}\n" in text
        ending = "SUCCEEDED" if number == 3 else "FAILED"
        assert text.endswith(f"FLYRAY attempt ended: {ending}\n")
    assert "ERR RuntimeError: failure number 1\n" in _text(attempts[0].log_uri)


def test_a_failed_tasks_log_ends_with_its_traceback_and_failed() -> None:
    starts = _Starts()
    with pytest.raises(NodeFailedError, match="the user's own message"):
        run(wfs.fails.compile(), {}, hooks=[starts])
    text = _text(starts.attempts[0].log_uri)
    assert "OUT about to fail\n" in text
    assert "ERR ValueError: the user's own message\n" in text
    assert text.endswith("FLYRAY attempt ended: FAILED\n")


def test_a_timed_out_tasks_log_ends_timed_out() -> None:
    starts = _Starts()
    with pytest.raises(NodeFailedError, match="longer than its timeout"):
        run(wfs.times_out.compile(), {}, hooks=[starts])
    text = _text(starts.uris[0])
    assert "OUT starting a long sleep\n" in text
    assert text.endswith("FLYRAY attempt ended: TIMED_OUT\n")


def test_the_values_of_requested_secrets_are_masked() -> None:
    with provide_secrets({("db", "password"): "hunter2-very-secret"}):
        result = run(wfs.leaks.compile(), {})
    text = _text(result.record.nodes["n0"].attempts[0].log_uri)
    assert "hunter2" not in text
    assert "OUT the password is ****!\n" in text
    assert "WARNING tests.leaky: logged: ****\n" in text


def test_each_map_element_has_its_own_log() -> None:
    result = run(wfs.mapped.compile(), {"xs": [10, 20, 30]})
    name, node = result.record.name, result.record.nodes["n0"]
    assert [c.node_id for c in node.children.values()] == ["n0-0", "n0-1", "n0-2"]
    for index, x in enumerate([10, 20, 30]):
        text = _text(attempt_log_uri(_blobs(), name, f"n0-{index}", 1))
        assert f"node=n0-{index} attempt=1 " in text and f"OUT element {x}\n" in text


def test_a_dynamic_nodes_children_log_in_its_child_execution() -> None:
    result = run(wfs.dynamic_fan.compile(), {"n": 2})
    node = result.record.nodes["n0"]
    assert "OUT the dynamic body makes 2 nodes\n" in _text(node.attempts[0].log_uri)
    assert node.child_execution and node.child_execution != result.record.name
    texts = [_text(attempt_log_uri(_blobs(), node.child_execution, child.node_id, 1))
             for child in node.children.values()]
    assert len(texts) == 2 and all(f"OUT element {x}\n" in t for x, t in zip(
        [0, 1], texts, strict=True))


def test_a_cache_hit_logs_that_the_task_did_not_run() -> None:
    x = uuid.uuid4().int % 1_000_000
    first = run(wfs.twice_cached.compile(), {"x": x})
    second = run(wfs.twice_cached.compile(), {"x": x})
    hit = second.record.nodes["n0"].attempts[0]
    assert hit.cache_status == "HIT"
    assert f"OUT computing {x}\n" in _text(first.record.nodes["n0"].attempts[0].log_uri)
    text = _text(hit.log_uri)
    assert "cache HIT" in text and "computing" not in text


def test_a_quiet_short_attempt_stores_no_log_and_its_record_says_so() -> None:
    starts = _Starts()
    result = run(wfs.silent.compile(), {"x": 1}, hooks=[starts])
    uri = starts.uris[0]
    assert uri == attempt_log_uri(_blobs(), result.record.name, "n0", 1)
    assert result.record.nodes["n0"].attempts[0].log_uri is None
    assert not LogStore(_blobs()).exists(uri)
