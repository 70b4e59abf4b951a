"""The console's pages of projects, executions and registered entities, over a store
seeded without Ray: counts by phase, the executions list's filters, paging, error
snippets and live rows, the entity pages' interfaces and versions, activation of launch
plans, and the actions' refusals shown as pages (never JSON) and their CSRF checks."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from engine.dag.run.state import ExecutionPhase, NodePhase
from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType, WorkflowSpec
from serve.store import AdminStore
from serve.store.execution_records import ExecutionRequest, TargetKind
from tests.console.conftest import ConsoleServer
from tests.console.seed import pipeline, register, seed_execution, seed_running
from tests.fixtures.cli_wfs import typed_wf
from tests.serve.specs import DOMAIN, PROJECT

BASE = f"/console/projects/{PROJECT}/domains/{DOMAIN}"
HTML = {"accept": "text/html"}


@contextlib.contextmanager
def csrf_client(console: ConsoleServer) -> Iterator[httpx.Client]:
    """A client holding a CSRF cookie, as a browser has once it opened a page."""
    with httpx.Client(base_url=console.endpoint) as http:
        http.get("/console/", headers=HTML)
        yield http


def plan(store: AdminStore, workflow: Identifier, version: str, **spec: Any) -> Identifier:
    """Register a launch plan version of ``workflow`` named "nightly"."""
    ident = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "nightly", version)
    store.register_launch_plan(LaunchPlanSpec.from_dict(
        {"id": ident.to_dict(), "workflow_id": workflow.to_dict(), **spec}))
    return ident


def test_projects_show_last_day_counts_by_phase(console: ConsoleServer) -> None:
    wf = register(console.store, pipeline)
    for name, phase in (("a", ExecutionPhase.SUCCEEDED), ("b", ExecutionPhase.SUCCEEDED),
                        ("c", ExecutionPhase.FAILED)):
        seed_execution(console.store, wf, name, nodes={}, phase=phase,
                       error="boom" if phase is ExecutionPhase.FAILED else None)
    page = httpx.get(console.url("/console/"), headers=HTML)
    assert page.status_code == 200
    assert 'data-phase="SUCCEEDED"' in page.text and ">SUCCEEDED 2</a>" in page.text
    assert ">FAILED 1</a>" in page.text and "RUNNING" not in page.text.split("cards")[1]


def test_executions_list_filters_pages_and_shows_error_snippets(console: ConsoleServer,
                                                                page: Any) -> None:
    store = console.store
    wf = register(store, pipeline)
    other = register(store, typed_wf)
    seed_execution(store, wf, "broken", nodes={"n0": NodePhase.FAILED},
                   phase=ExecutionPhase.FAILED,
                   error="ValueError: boom\nTraceback (most recent call last): ...")
    for i in range(50):
        seed_execution(store, wf, f"ok{i:02d}", nodes={})
    store.create_execution(_request(other))

    page.goto(console.url(f"{BASE}/executions"))
    rows = page.get_by_test_id("execution-row")
    expect(rows).to_have_count(50)
    page.get_by_test_id("next-page").click()
    expect(rows).to_have_count(2)  # the oldest ones: "broken" and ok00
    expect(page.locator("[data-execution=broken] [data-testid=error-snippet]")).to_have_text(
        "USER ValueError: boom")
    expect(page.locator("[data-execution=broken] [data-testid=mode]")).to_have_text("MANUAL")

    page.goto(console.url(f"{BASE}/executions"))
    page.get_by_label("FAILED").check()
    page.get_by_test_id("filter-apply").click()
    expect(rows).to_have_count(1)
    assert "phase=FAILED" in page.url  # the filter is a link
    page.goto(console.url(f"{BASE}/executions?workflow={other.name}"))
    expect(rows).to_have_count(1)
    api = httpx.get(console.url(f"/api/v1/executions/{PROJECT}/{DOMAIN}"),
                    params={"workflow": other.name, "version": other.version}).json()
    assert [e["id"]["name"] for e in api["executions"]] == ["queued"]  # the API's filters
    expect(rows.first).to_have_attribute("data-phase", "QUEUED")
    page.goto(console.url(f"{BASE}/executions?version={wf.version}&after=2000-01-01T00:00"))
    expect(rows).to_have_count(50)
    page.goto(console.url(f"{BASE}/executions?launch_plan={wf.name}&before=2000-01-01T00:00"))
    expect(page.get_by_test_id("no-executions")).to_be_visible()
    page.goto(console.url(f"{BASE}/executions?after=yesterday"))
    expect(page.get_by_test_id("filter-error")).to_contain_text("'yesterday' is not a date")


def _request(workflow: Identifier) -> ExecutionRequest:
    return ExecutionRequest(PROJECT, DOMAIN, "queued", TargetKind.WORKFLOW, workflow.name,
                            workflow.version, {"xs": [1], "weights": {}, "p": {"x": 1,
                                                                              "y": 2.0}})


@pytest.mark.timeout(60)
def test_running_rows_refresh_without_a_reload(console: ConsoleServer, page: Any) -> None:
    wf = register(console.store, pipeline)
    running = seed_running(console.store, wf, "live", nodes={"n0": NodePhase.RUNNING})
    page.goto(console.url(f"{BASE}/executions"))
    row = page.locator("[data-execution=live]")
    expect(row).to_have_attribute("data-phase", "RUNNING")
    console.store.finish_execution(running.id, running.incarnation, ExecutionPhase.SUCCEEDED)
    expect(row).to_have_attribute("data-phase", "SUCCEEDED", timeout=15_000)
    expect(row).to_have_attribute("data-terminal", "1")


def test_entity_pages_show_interface_versions_and_graph(console: ConsoleServer) -> None:
    store = console.store
    first = register(store, typed_wf)
    spec = copy.deepcopy(typed_wf.compile().spec.to_dict())
    spec["id"]["version"] = "v2"
    store.register_workflow(WorkflowSpec.from_dict(spec))
    with httpx.Client(base_url=console.endpoint, headers=HTML) as http:
        listing = http.get(f"{BASE}/workflows", params={"q": "typed"})
        assert listing.status_code == 200 and f'data-name="{first.name}"' in listing.text
        assert "v2" in listing.text  # the latest version
        assert 'data-testid="entity-row"' not in http.get(f"{BASE}/workflows",
                                                          params={"q": "nothing"}).text
        detail = http.get(f"{BASE}/workflow/{first.name}/version/{first.version}")
        assert detail.status_code == 200
        for name, type_ in (("xs", "list[int]"), ("weights", "dict[str, float]"),
                            ("p", "dataclass Point"), ("color", "Color(red, green)"),
                            ("wait", "timedelta")):
            assert f'data-name="{name}"><td>{name}</td><td><code>{type_}</code>' in detail.text
        assert detail.text.count('data-testid="launch-plan"') == 2  # its default plans
        assert f"/console/api/workflows/{PROJECT}/{DOMAIN}/{first.name}/{first.version}/graph" \
            in detail.text
        assert f">{first.version}</a>" in detail.text and ">v2</a>" in detail.text
        task = http.get(f"{BASE}/task/tests.console.seed.train")
        assert task.status_code == 404 and "is not registered" in task.text
        register(store, pipeline)
        task = http.get(f"{BASE}/task/tests.console.seed.train")
        assert "<dt>Timeout</dt><dd>600s</dd>" in task.text
        missing = http.get(f"{BASE}/launch_plan/nope")
        assert missing.status_code == 404 and 'data-testid="page-error"' in missing.text


def test_activating_a_version_flips_its_state_and_deactivates_the_other(
        console: ConsoleServer, page: Any) -> None:
    store = console.store
    wf = register(store, pipeline)
    rate = {"rate": {"value": 10, "unit": "MINUTE"}}
    v1, v2 = plan(store, wf, "v1", schedule=rate), plan(store, wf, "v2", schedule=rate)
    api = f"/api/v1/launch_plans/{PROJECT}/{DOMAIN}/nightly"

    def state(version: str) -> str:
        return str(httpx.get(console.url(f"{api}/{version}")).json()["state"])

    page.goto(console.url(f"{BASE}/launch_plan/nightly/version/v1"))
    expect(page.get_by_test_id("no-next-runs")).to_be_visible()
    v1_row = page.locator("[data-testid=launch-plan][data-version=v1]")
    v1_row.get_by_test_id("activate").click()
    expect(v1_row.get_by_test_id("state")).to_have_text("ACTIVE")
    expect(page.get_by_test_id("next-runs").locator("li")).to_have_count(3)
    assert state("v1") == "ACTIVE"
    page.locator("[data-testid=launch-plan][data-version=v2]").get_by_test_id("activate").click()
    expect(page.locator("[data-testid=launch-plan][data-version=v2] [data-testid=state]")
           ).to_have_text("ACTIVE")
    expect(v1_row.get_by_test_id("state")).to_have_text("INACTIVE")
    assert (state("v1"), state("v2")) == ("INACTIVE", "ACTIVE")
    page.goto(console.url(f"{BASE}/launch_plans"))
    row = page.locator("[data-testid=entity-row][data-name=nightly]")
    expect(row.get_by_test_id("state")).to_have_text("ACTIVE")
    expect(row).to_contain_text("every 10 minutes")
    page.goto(console.url(f"{BASE}/launch_plan/nightly/version/{v2.version}"))
    page.get_by_test_id("deactivate").click()
    expect(page.get_by_test_id("launch-plan").get_by_test_id("state")).to_have_text(
        ["INACTIVE", "INACTIVE"])
    assert state(v1.version) == state(v2.version) == "INACTIVE"


def test_actions_refuse_requests_without_the_csrf_token(console: ConsoleServer) -> None:
    wf = register(console.store, pipeline)
    plan(console.store, wf, "v1")
    activate = f"{BASE}/launch_plan/nightly/version/v1/activate"
    with csrf_client(console) as http:
        assert http.post(activate, data={}).status_code == 403
        assert http.post(activate, data={"csrf": "forged"}).status_code == 403
        assert console.store.active_launch_plans(PROJECT, DOMAIN).items == []
        ok = http.post(activate, data={"csrf": http.cookies["flyray_csrf"]})
        assert ok.status_code == 303 and ok.headers["location"].endswith("/version/v1")
        launch = http.post(f"{BASE}/launch/workflow/{wf.name}", data={"in.n": "2"})
        assert launch.status_code == 403


def test_refused_actions_are_pages_and_terminate_ends_the_execution(
        console: ConsoleServer) -> None:
    store = console.store
    wf = register(store, pipeline)
    seed_execution(store, wf, "done", nodes={})
    running = seed_running(store, wf, "busy", nodes={"n0": NodePhase.RUNNING})
    with csrf_client(console) as http:
        token = {"csrf": http.cookies["flyray_csrf"]}
        # This server has no launcher: the service refuses, the page says why.
        relaunch = http.post(f"{BASE}/executions/done/relaunch", data=token, headers=HTML)
        assert relaunch.status_code == 503
        assert 'data-testid="page-error"' in relaunch.text
        assert "runs no executions" in relaunch.text
        assert "relaunch execution done" in relaunch.text
        recover = http.post(f"{BASE}/executions/done/recover", data=token, headers=HTML)
        assert recover.status_code == 503 and "recover execution done" in recover.text
        ended = http.post(f"{BASE}/executions/done/terminate", data=token, headers=HTML)
        assert ended.status_code == 409 and "already ended SUCCEEDED" in ended.text
        stop = http.post(f"{BASE}/executions/busy/terminate",
                         data={**token, "cause": "enough"})
        assert stop.status_code == 303 and stop.headers["location"].endswith("/executions/busy")
    execution = store.get_execution(running.id)
    assert execution.phase is ExecutionPhase.ABORTED and execution.abort_cause == "enough"
