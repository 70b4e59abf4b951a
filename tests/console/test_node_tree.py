"""The execution page's node tree: its quick filters (failed, running, cached), kept in the
URL and applied by the store a page at a time, and every kind of node nested under the
row it belongs to: a map's and a dynamic node's children, an inlined sub-workflow's
nodes under its group row, and a link to the execution a node launched. Over
``seed.seed_tree`` (see it for which node each filter picks); no Ray."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from serve.store import AdminStore
from serve.store.execution_records import ExecutionId
from serve.store.execution_views import NodePage
from tests.conftest import create_database, drop_database
from tests.console import seed
from tests.console.conftest import ConsoleServer

pytestmark = pytest.mark.timeout(60)

# The rows each quick filter shows: top level, then under each row expanded.
EXPECTED: dict[str | None, dict[str, list[str]]] = {
    None: {"": ["n0", "n1", "n2", "n3"], "n0": ["n0/0", "n0/1", "n0/2"],
           "n1": ["n1/n0", "n1/n1"], "n2": ["n2-n0", "n2-n1"]},
    "failed": {"": ["n1"], "n1": ["n1/n1"]},
    "running": {"": ["n0", "n2"], "n0": ["n0/1"], "n2": ["n2-n1"]},
    "cached": {"": ["n0", "n2"], "n0": ["n0/0"], "n2": ["n2-n0"]},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AdminStore]:
    """An admin store holding ``seed_tree``'s execution, on each database backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/admin.db"
    else:
        url = create_database(request.getfixturevalue("postgres_server"))
    admin = AdminStore(url)
    try:
        seed.seed_tree(admin)
        yield admin
    finally:
        admin.close()
        if request.param == "postgresql":
            drop_database(url)


def ids(page: NodePage) -> list[str]:
    return [r.node_id for r in page.rows]


@pytest.mark.parametrize("only", list(EXPECTED))
def test_the_store_pages_each_level_of_the_tree_through_a_filter(store: AdminStore,
                                                                 only: str | None) -> None:
    tree = ExecutionId(seed.PROJECT, seed.DOMAIN, "tree")
    top = store.node_page(tree, 0, 200, only)
    assert ids(top) == EXPECTED[only][""] and top.total == len(top.rows)
    for parent, rows in EXPECTED[only].items():
        if parent == "n2":
            assert ids(store.node_page(tree, 0, 200, only, "n2")) == rows
        elif parent:
            assert ids(store.child_page(tree, parent, 0, 200, only)) == rows
    group = next(r for r in top.rows if r.node_id == "n2") if "n2" in ids(top) else None
    if group is not None:  # one row for the sub-workflow, counting what it shows
        assert group.kind == "subworkflow" and group.children == len(EXPECTED[only]["n2"])
    # paging: one row from the second entry on
    assert ids(store.node_page(tree, 1, 1, only)) == EXPECTED[only][""][1:2]


def test_a_node_that_launched_an_execution_links_to_it(store: AdminStore) -> None:
    rows = {r.node_id: r for r in store.node_page(
        ExecutionId(seed.PROJECT, seed.DOMAIN, "tree")).rows}
    assert rows["n3"].child_execution == ExecutionId(seed.PROJECT, seed.DOMAIN, "tree-child")
    assert rows["n1"].child_execution is None  # a dynamic node's children nest instead


def tree_url(console: ConsoleServer, query: str = "?view=nodes") -> str:
    return console.url(f"/console/projects/{seed.PROJECT}/domains/{seed.DOMAIN}/executions/"
                       f"tree{query}")


def shown(page: Any) -> list[str]:
    """The node ids of the tree's rows, top to bottom."""
    table = page.get_by_test_id("nodes")
    expect(table).to_have_attribute("data-rendered", "1")
    return list(table.locator("tbody tr[data-node-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.nodeId)"))


def expand(page: Any, node_id: str) -> None:
    page.get_by_test_id("nodes").locator(f"tr[data-node-id='{node_id}'] [data-expand]").click()


def test_each_quick_filter_shows_exactly_its_rows_and_is_kept_in_the_url(
        console: ConsoleServer, page: Any) -> None:
    seed.seed_tree(console.store)
    page.goto(tree_url(console))
    table = page.get_by_test_id("nodes")
    expect(table.locator("tbody tr[data-node-id]")).to_have_count(4)
    filters = page.get_by_test_id("node-filters")
    for only in ("failed", "running", "cached"):
        filters.locator(f"[data-filter={only}]").click()
        expect(table.locator("tbody tr[data-node-id]")).to_have_count(
            len(EXPECTED[only][""]))
        assert shown(page) == EXPECTED[only][""], only
        assert f"filter={only}" in page.url and "view=nodes" in page.url
        expect(filters.locator(f"[data-filter={only}]")).to_have_attribute(
            "aria-pressed", "true")
        for parent, rows in EXPECTED[only].items():  # expanded children are filtered too
            if parent:
                expand(page, parent)
                expect(table.locator(f"tr[data-parent='{parent}'][data-node-id]")
                       ).to_have_count(len(rows))
        assert shown(page) == [r for top in EXPECTED[only][""]
                               for r in (top, *EXPECTED[only].get(top, []))]
    # a link with the filter opens the page filtered; All shows every node again
    page.goto(tree_url(console, "?view=nodes&filter=failed"))
    expect(table.locator("tbody tr[data-node-id]")).to_have_count(1)
    assert shown(page) == ["n1"]
    filters.locator("[data-filter='']").click()
    expect(table.locator("tbody tr[data-node-id]")).to_have_count(4)
    assert "filter=" not in page.url


def test_a_sub_workflow_group_expands_to_its_nodes_and_collapses(
        console: ConsoleServer, page: Any) -> None:
    seed.seed_tree(console.store)
    page.goto(tree_url(console))
    table = page.get_by_test_id("nodes")
    group = table.locator("tr[data-node-id=n2]")
    expect(group).to_have_attribute("data-kind", "subworkflow")
    expect(group).to_have_attribute("data-phase", "RUNNING")  # its members' most telling
    expect(group).to_contain_text("sub-workflow")
    expand(page, "n2")
    members = table.locator("tr[data-parent=n2]")
    expect(members).to_have_count(2)
    assert shown(page) == ["n0", "n1", "n2", "n2-n0", "n2-n1", "n3"]
    expect(members.first).to_contain_text("HIT")
    members.first.locator("a[data-select]").click()  # a member opens its node panel
    expect(page.get_by_test_id("node-panel")).to_contain_text("n2-n0")
    expand(page, "n1")  # a dynamic node's children nest under it
    expect(table.locator("tr[data-parent=n1]")).to_have_count(2)
    expand(page, "n2")
    expect(members).to_have_count(0)
    assert shown(page) == ["n0", "n1", "n1/n0", "n1/n1", "n2", "n3"]


def test_a_node_that_launched_an_execution_links_to_its_page(console: ConsoleServer,
                                                             page: Any) -> None:
    seed.seed_tree(console.store)
    page.goto(tree_url(console))
    link = page.get_by_test_id("nodes").locator("tr[data-node-id=n3]").get_by_test_id(
        "child-execution")
    expect(link).to_have_text("↗ tree-child")
    link.click()
    expect(page).to_have_url(tree_url(console, "-child"))
    expect(page.get_by_test_id("execution-phase")).to_have_text("FAILED")
