"""The JSON and event stream the execution page's script reads, over plain HTTP: the
graph's geometry (compact, gzipped, cached per workflow version), the timeline, pages
of the node tree, and the change feed as server-sent events."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from serve.console.layout import layered
from tests.console import seed
from tests.console.conftest import ConsoleServer

pytestmark = pytest.mark.timeout(60)


def test_the_big_geometry_is_small_and_its_groups_are_collapsed(
        console: ConsoleServer) -> None:
    big = seed.seed_big(console.store)
    with httpx.Client(base_url=console.endpoint) as http:
        raw = http.get(f"/console/api/executions/{big.id}/graph",
                       headers={"accept-encoding": "gzip"})
        assert raw.status_code == 200 and raw.headers["content-encoding"] == "gzip"
        geometry = raw.json()
        size = len(gzip.compress(json.dumps(geometry, separators=(",", ":")).encode()))
        assert size <= 300 * 1024, size
        nodes = {n[0]: n for n in geometry["nodes"]}
        assert nodes["n0"][5:] == ["map", "square.map", seed.MAP_SIZE]
        # start, the map, the 2,000-node fan-out as one box, two totals, an add, end
        assert len(nodes) == 7 and len(geometry["edges"]) == 7
        assert nodes["fan:n1"][5:] == ["fan", "noop", seed.FAN_OUT]
        assert geometry["groups"]["fan:n1"] == [f"n{i}" for i in range(1, seed.FAN_OUT + 1)]
        assert "phase" not in raw.text  # phases come from the change feed only
        rows = http.get(f"/console/projects/{seed.PROJECT}/domains/{seed.DOMAIN}/executions/"
                        f"big/rows", params={"parent": "n0", "offset": 9900})
        assert rows.text.count("data-parent=\"n0\"") == 100 and "next-page" not in rows.text
        failed = http.get(f"/console/projects/{seed.PROJECT}/domains/{seed.DOMAIN}/"
                          "executions/big/rows", params={"parent": "n0", "failed": "true"})
        assert failed.text.count("<tr data-node-id") == 1 and "n0/17" in failed.text


def test_the_timeline_has_a_bar_per_attempt_and_the_stream_ends_when_caught_up(
        console: ConsoleServer) -> None:
    small = seed.seed_small(console.store)
    with httpx.Client(base_url=console.endpoint) as http:
        bars = http.get(f"/console/api/executions/{small}/timeline").json()["bars"]
        assert [b[2] for b in bars if b[0] == "n1"] == ["FAILED", "FAILED", "SUCCEEDED"]
        assert len(bars) == 6 and all(b[3] >= 0 and b[4] >= 0 for b in bars)
        base = f"/console/projects/{seed.PROJECT}/domains/{seed.DOMAIN}/executions/small"
        with http.stream("GET", f"{base}/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in events.headers
            text = "".join(events.iter_text())
        first, done = text.split("\n\n")[:2]
        assert first.startswith("id: ") and done == "event: done\ndata: {}"
        changes = json.loads(first.split("data: ", 1)[1])
        assert changes["terminal"] and {n["node_id"] for n in changes["nodes"]} == {
            "n0", "n1", "n2", "n3", "n4"}
        resumed = http.get(f"{base}/events", headers={"last-event-id": str(changes["seq"])})
        assert '"nodes":[]' in resumed.text and resumed.text.endswith("event: done\ndata: {}\n\n")
        missing = http.get(f"{base}/nodes/n9", headers={"x-fragment": "1"})
        assert missing.status_code == 404 and "has no node 'n9'" in missing.text


def test_the_layout_ranks_left_to_right_and_keeps_columns_apart() -> None:
    placed = layered([(100, 20)] * 4, [(0, 1), (0, 2), (1, 3), (2, 3)])
    assert placed.x[0] < placed.x[1] == placed.x[2] < placed.x[3]
    assert abs(placed.y[1] - placed.y[2]) >= 20
    assert placed.width == placed.x[3] + 100
