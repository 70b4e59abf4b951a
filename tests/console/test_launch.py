"""The launch form: generated from the typed interface, checked on the server by the
API's own checks as it is filled in (errors inline, Launch disabled while any), kept
whole when a launch is refused; and one launch end to end on the shared Ray cluster."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType
from serve.control.launcher import RayLauncher
from tests.console.conftest import ConsoleServer, MakeConsole
from tests.console.seed import register
from tests.fixtures import log_wfs
from tests.fixtures.cli_wfs import failing_wf, typed_wf
from tests.serve.conftest import kill_executors
from tests.serve.specs import DOMAIN, PROJECT

BASE = f"/console/projects/{PROJECT}/domains/{DOMAIN}"


def test_an_invalid_value_is_shown_inline_and_disables_launch(console: ConsoleServer,
                                                              page: Any) -> None:
    wf = register(console.store, typed_wf)
    page.goto(console.url(f"{BASE}/launch/workflow/{wf.name}"))
    launch = page.get_by_test_id("launch-submit")
    expect(launch).to_be_disabled()  # xs, weights and p have no default

    def field(name: str) -> Any:
        return page.locator(f"[data-field={name}]")

    expect(field("color").locator("select")).to_have_value("red")  # the default
    expect(field("wait").get_by_test_id("input")).to_have_value("5.0")
    field("xs").get_by_test_id("input").fill("[1, 2]")
    field("weights").get_by_test_id("input").fill('{"a": 0.5}')
    field("p").get_by_test_id("input").fill('{"x": 1, "y": 2.5}')
    expect(launch).to_be_enabled()
    field("xs").get_by_test_id("input").fill('[1, "two"]')
    expect(field("xs").get_by_test_id("field-error")).to_have_text(
        "input 'xs' expects list[int], got [1, \"two\"]")
    expect(launch).to_be_disabled()
    field("xs").get_by_test_id("input").fill("[1, 2")
    expect(field("xs").get_by_test_id("field-error")).to_contain_text("not JSON")
    field("xs").get_by_test_id("input").fill("[3]")
    field("p").get_by_test_id("input").fill('{"x": 1.5, "y": 2}')
    expect(field("p").get_by_test_id("field-error")).to_contain_text(
        "input 'p' expects dataclass Point")
    expect(field("xs").get_by_test_id("field-error")).to_have_text("")
    expect(launch).to_be_disabled()

    other = register(console.store, failing_wf)
    page.goto(console.url(f"{BASE}/launch/workflow/{other.name}"))
    page.get_by_test_id("input").fill("2.5")
    expect(page.get_by_test_id("field-error")).to_have_text("input 'n' expects int, got 2.5")
    expect(page.get_by_test_id("launch-submit")).to_be_disabled()
    page.get_by_test_id("input").fill("2")
    expect(page.get_by_test_id("launch-submit")).to_be_enabled()
    # This server has no launcher: the refusal is shown on the form, nothing typed lost.
    page.get_by_text("Advanced").click()
    page.get_by_test_id("labels").fill("team: ml")
    page.get_by_test_id("launch-submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("runs no executions")
    expect(page.get_by_test_id("input")).to_have_value("2")
    expect(page.get_by_test_id("labels")).to_have_value("team: ml")


def test_what_is_typed_before_the_forms_script_runs_is_checked(console: ConsoleServer,
                                                                page: Any) -> None:
    """A fast typist (or a slow network) fills the form before its module has run."""
    wf = register(console.store, failing_wf)
    page.context.route("**/forms.js*", lambda route: (time.sleep(0.5), route.continue_()))
    page.goto(console.url(f"{BASE}/launch/workflow/{wf.name}"), wait_until="commit")
    page.get_by_test_id("input").fill("3")
    expect(page.get_by_test_id("launch-submit")).to_be_enabled()


def test_the_server_checks_a_submitted_form_as_the_api_does(console: ConsoleServer) -> None:
    store = console.store
    wf = register(store, typed_wf)
    ident = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "fixed", "v1")
    store.register_launch_plan(LaunchPlanSpec.from_dict({
        "id": ident.to_dict(), "workflow_id": wf.to_dict(),
        "fixed_inputs": {"xs": [7]}, "default_inputs": {"color": "green"}}))
    with httpx.Client(base_url=console.endpoint, headers={"accept": "text/html"}) as http:
        form = http.get(f"{BASE}/launch/launch_plan/fixed")
        assert form.status_code == 200
        assert re.search(r'value="\[7\]" readonly data-testid="fixed"', form.text)
        assert "<option selected>green</option>" in form.text
        csrf = http.cookies["flyray_csrf"]
        sent = {"csrf": csrf, "version": "v1", "in.xs": "[1]", "in.weights": "{}",
                "in.p": '{"x": 1, "y": 2.0}', "in.color": "blue", "in.when": "31 Jan",
                "in.wait": "soon"}
        checked = http.post(f"{BASE}/launch/launch_plan/fixed/validate", data=sent).json()
        assert checked["valid"] is False and checked["form_error"] is None
        assert checked["errors"] == {
            "color": "input 'color' expects Color(red, green), got \"blue\"",
            "when": "'31 Jan' is not an ISO 8601 date-time such as 2026-01-31T12:00:00+00:00",
            "wait": "'soon' is not a number"}
        good = {**sent, "in.color": "red", "in.when": "2026-01-31T12:00:00+00:00",
                "in.wait": "1.5"}
        checked = http.post(f"{BASE}/launch/launch_plan/fixed/validate", data=good).json()
        assert checked == {"valid": True, "errors": {}, "form_error": None}
        refused = http.post(f"{BASE}/launch/launch_plan/fixed", data={**sent, "labels": "x"})
        assert refused.status_code == 400
        assert "expects Color(red, green)" in refused.text and 'value="soon"' in refused.text
        assert http.post(f"{BASE}/launch/launch_plan/fixed/validate",
                         data={k: v for k, v in good.items() if k != "csrf"}).status_code == 403


@pytest.fixture
def launching_console(make_console: MakeConsole, ray_cluster: None,
                      tmp_path: Path) -> Iterator[ConsoleServer]:
    """The console with the Ray launcher: its executions run on the shared cluster."""
    try:
        yield make_console(launcher=RayLauncher())
    finally:
        kill_executors()


@pytest.mark.timeout(180)
def test_a_launch_from_the_form_runs_to_success(launching_console: ConsoleServer,
                                                page: Any) -> None:
    console = launching_console
    wf = register(console.store, failing_wf)
    page.goto(console.url(f"{BASE}/workflow/{wf.name}"))
    page.get_by_test_id("launch").click()
    page.get_by_test_id("input").fill("1")
    expect(page.get_by_test_id("launch-submit")).to_be_enabled()
    page.get_by_test_id("launch-submit").click()
    page.wait_for_url(re.compile(r".*/executions/f[0-9a-f]+$"))
    name = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=120_000)
    api = httpx.get(console.url(f"/api/v1/executions/{PROJECT}/{DOMAIN}/{name}")).json()
    assert api["closure"]["phase"] == "SUCCEEDED" and api["spec"]["inputs"] == {"n": 1}
    page.goto(console.url(f"{BASE}/executions"))
    expect(page.locator(f"[data-execution={name}]")).to_have_attribute("data-phase",
                                                                      "SUCCEEDED")


@pytest.mark.timeout(180)
def test_what_a_launched_task_printed_shows_in_its_node_panel(
        launching_console: ConsoleServer, page: Any) -> None:
    console = launching_console
    wf = register(console.store, log_wfs.talk)
    page.goto(console.url(f"{BASE}/launch/workflow/{wf.name}"))
    page.get_by_test_id("input").fill("3")
    page.get_by_test_id("launch-submit").click()
    page.wait_for_url(re.compile(r".*/executions/f[0-9a-f]+$"))
    expect(page.get_by_test_id("execution-phase")).to_have_text("SUCCEEDED", timeout=120_000)
    page.goto(page.url + "?view=timeline&node=n0")
    expect(page.get_by_test_id("node-panel")).to_be_visible()
    tail = page.get_by_test_id("log-tail")
    expect(tail).to_contain_text("OUT printed 3")
    expect(tail).to_contain_text("INFO tests.chatty: logged at info: 3")
    expect(tail).to_contain_text("FLYRAY attempt ended: SUCCEEDED")
    expect(page.locator("[data-testid=timeline] [data-bar][data-node-id=n0]")).to_have_count(1)
