"""The execution page in Chromium, over executions seeded into the store (no Ray): the
graph, the timeline, the error banner, the node panel, a 10,000-element map, and live
phases over server-sent events and over polling."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.dag.run.state import NodePhase
from serve.store.execution_records import AttemptEvent, NodeAttempt, NodeEvent
from tests.console import seed
from tests.console.conftest import ConsoleServer

pytestmark = pytest.mark.timeout(60)


def page_of(console: ConsoleServer, name: str, query: str = "") -> str:
    return console.url(f"/console/projects/{seed.PROJECT}/domains/{seed.DOMAIN}/executions/"
                       f"{name}{query}")


def test_a_failed_execution_shows_its_graph_timeline_and_error(console: ConsoleServer,
                                                               page: Any) -> None:
    seed.seed_small(console.store)
    page.goto(page_of(console, "small"))
    graph = page.get_by_test_id("graph")
    expect(graph).to_have_attribute("data-rendered", "1")
    # start, five tasks, end; load->clean->(train, evaluate)->report, start and end edges
    expect(graph).to_have_attribute("data-node-count", "7")
    expect(graph).to_have_attribute("data-edge-count", "7")
    expect(graph.locator("[data-node-id=n2]")).to_have_attribute("data-phase", "FAILED")
    expect(graph.locator("[data-node-id=n0]")).to_have_attribute("data-phase", "SUCCEEDED")
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_contain_text("ValueError: boom")
    expect(banner).to_contain_text("USER")
    expect(banner.locator("a.node-link")).to_have_text("n2")
    page.locator("[data-tab=timeline]").click()
    bars = page.get_by_test_id("timeline").locator("[data-bar][data-node-id=n1]")
    expect(bars).to_have_count(3)
    assert [bars.nth(i).get_attribute("data-phase") for i in range(3)] == [
        "FAILED", "FAILED", "SUCCEEDED"]
    expect(page.get_by_test_id("timeline").locator("[data-bar][data-node-id=n2]")
           ).to_have_attribute("data-phase", "FAILED")
    assert "view=timeline" in page.url


def test_the_node_panel_shows_typed_values_attempts_and_settings(console: ConsoleServer,
                                                                page: Any) -> None:
    seed.seed_small(console.store, blobs=console.app.state.blobs)
    page.goto(page_of(console, "small", "?view=nodes"))
    page.get_by_test_id("nodes").locator("a[data-select=n1]").click()
    panel = page.get_by_test_id("node-panel")
    expect(panel.get_by_test_id("inputs")).to_contain_text("list[int]")
    expect(panel.get_by_test_id("outputs")).to_contain_text("2")
    expect(panel.get_by_test_id("attempts").locator("li")).to_have_count(3)
    expect(panel.get_by_test_id("task-settings")).to_contain_text("retries")
    assert "node=n1" in page.url
    # a deep link renders the panel on the server
    page.goto(page_of(console, "small", "/nodes/n2"))
    expect(page.get_by_test_id("node-panel")).to_contain_text("ValueError: boom")
    expect(page.get_by_test_id("node-panel").get_by_test_id("task-settings")
           ).to_contain_text("10m")
    expect(page.get_by_test_id("log-tail")).to_contain_text("OUT training on 3 rows")


def test_a_10000_element_map_is_one_group_whose_children_page(console: ConsoleServer,
                                                             page: Any) -> None:
    seed.seed_big(console.store)
    page.goto(page_of(console, "big", "?view=nodes"))
    graph = page.get_by_test_id("graph")
    expect(graph).to_have_attribute("data-rendered", "1")
    # start, the map, the fan-out (one box), two totals, an add, end
    expect(graph).to_have_attribute("data-node-count", "7")
    expect(graph.locator("[data-node-id=n0]")).to_contain_text("10000")
    fan = graph.locator("[data-node-id='fan:n1']")
    expect(fan).to_contain_text(f"noop ×{seed.FAN_OUT} ✓{seed.FAN_OUT}")
    expect(fan).to_have_attribute("data-phase", "SUCCEEDED")
    tree = page.get_by_test_id("nodes")
    tree.get_by_test_id("expand").first.click()
    children = tree.locator("tr[data-parent=n0]")
    expect(children).to_have_count(201)  # 200 rows and the next-page row
    tree.get_by_test_id("next-page").first.click()
    expect(children).to_have_count(401)
    expect(tree.locator("tr[data-node-id='n0/17']")).to_have_attribute("data-phase", "FAILED")


def test_a_graph_of_many_boxes_is_drawn_on_a_canvas_beside_a_node_list(
        console: ConsoleServer, page: Any) -> None:
    wf = seed.register(console.store, seed.chain)
    seed.seed_running(console.store, wf, "chain",
                      nodes={f"n{i}": NodePhase.SUCCEEDED for i in range(seed.CHAIN)},
                      inputs={"x": 0})
    page.goto(page_of(console, "chain"))
    graph = page.get_by_test_id("graph")
    expect(graph).to_have_attribute("data-rendered", "1")
    expect(graph).to_have_attribute("data-node-count", str(seed.CHAIN + 2))
    expect(graph.locator("canvas.main")).to_have_count(1)
    last = graph.locator(f"li[data-node-id=n{seed.CHAIN - 1}]")
    expect(last).to_have_attribute("data-phase", "SUCCEEDED")
    graph.get_by_test_id("graph-search").fill(f"n{seed.CHAIN - 1}")
    graph.get_by_test_id("graph-search").press("Enter")
    expect(page.get_by_test_id("node-panel")).to_contain_text(f"n{seed.CHAIN - 1}")


def _finish_load(console: ConsoleServer, running: seed.Seeded) -> None:
    now = time.time()
    console.store.record_events(running.id, running.incarnation, [
        NodeEvent("n0", "tests.console.seed.load", 0, NodePhase.SUCCEEDED,
                  outputs={"o0": {"inline": [1]}}),
        AttemptEvent("n0", NodeAttempt(1, now - 1, now, NodePhase.SUCCEEDED, None, None,
                                       None, {}))])


@pytest.mark.parametrize("transport", ["sse", "polling"])
def test_phases_change_live_without_a_reload(console: ConsoleServer, page: Any,
                                             transport: str) -> None:
    wf = seed.register(console.store, seed.pipeline)
    running = seed.seed_running(console.store, wf, f"live-{transport}",
                                nodes={"n0": NodePhase.RUNNING})
    if transport == "polling":
        page.add_init_script("delete window.EventSource")
    page.goto(page_of(console, running.id.name))
    node = page.get_by_test_id("graph").locator("[data-node-id=n0]")
    expect(node).to_have_attribute("data-phase", "RUNNING")
    _finish_load(console, running)
    expect(node).to_have_attribute("data-phase", "SUCCEEDED", timeout=5000)
    expect(page.get_by_test_id("timeline").locator("[data-bar][data-node-id=n0]")
           ).to_have_attribute("data-phase", "SUCCEEDED")
    expect(page.get_by_test_id("execution-phase")).to_have_text("RUNNING")
