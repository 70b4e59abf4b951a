"""The node panel of a cache HIT, in Chromium: it links the execution that computed the
outputs (opening that node there), or names the local run that did."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console import seed
from tests.console.conftest import ConsoleServer
from tests.serve.test_cache_sources import producer_and_hit

pytestmark = pytest.mark.timeout(60)


def executions(console: ConsoleServer) -> str:
    return console.url(f"/console/projects/{seed.PROJECT}/domains/{seed.DOMAIN}/executions")


def test_a_hit_links_the_execution_that_produced_it(console: ConsoleServer,
                                                    page: Any) -> None:
    producer_and_hit(console.store, "fprod")
    page.goto(f"{executions(console)}/second?view=nodes")
    page.get_by_test_id("nodes").locator("a[data-select=n0]").click()
    link = page.get_by_test_id("node-panel").get_by_test_id("cache-source")
    expect(link).to_have_text("n0 of execution first")
    link.click()
    expect(page).to_have_url(f"{executions(console)}/first?node=n0")
    panel = page.get_by_test_id("node-panel")
    expect(panel.locator("[data-node-id=n0]")).to_have_attribute("data-phase", "SUCCEEDED")


def test_a_hit_from_a_local_run_names_that_run(console: ConsoleServer, page: Any) -> None:
    producer_and_hit(console.store, "flocal0123456789abcd")
    page.goto(f"{executions(console)}/second/nodes/n0")
    cache = page.get_by_test_id("node-panel").get_by_test_id("cache")
    expect(cache.get_by_test_id("cache-source")).to_have_text("flocal0123456789abcd")
    expect(cache).to_contain_text("a local run")
    expect(cache.locator("a")).to_have_count(0)
