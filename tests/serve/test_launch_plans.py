"""Launch plans: registration checked against the workflow, activation per version (also
under concurrency), and the inputs of a launch. Over SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from engine.dag.spec import Identifier, ResourceType
from serve.errors import InvalidArgumentError
from serve.store import AdminStore
from tests.fixtures import admin_wfs, launch_plan_wfs
from tests.serve.specs import error_of, launch_plan_body, path_of, register_workflow

LP = "/api/v1/launch_plans"


@pytest.fixture
def greeter(client: TestClient) -> dict[str, Any]:
    """The id of the registered workflow greeter(name: str, greeting: str = "Hello")."""
    return register_workflow(client, launch_plan_wfs.greeter)


def lp_id(body: dict[str, Any]) -> Identifier:
    return Identifier.from_dict(body["id"])


def test_register_a_launch_plan_with_fixed_and_default_inputs(
        client: TestClient, greeter: dict[str, Any]) -> None:
    body = launch_plan_body(greeter, "formal", fixed_inputs={"greeting": "Good evening"},
                            default_inputs={"name": "you"}, max_parallel_executions=2)
    response = client.post(LP, json=body)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["state"] == "INACTIVE"
    assert plan["spec"]["fixed_inputs"] == {"greeting": "Good evening"}
    assert plan["spec"]["max_parallel_executions"] == 2
    assert client.post(LP, json=body).status_code == 200
    assert client.get(f"{LP}/{path_of(body['id'])}").json()["spec"] == plan["spec"]

    changed = launch_plan_body(greeter, "formal", fixed_inputs={"greeting": "Hi"},
                               default_inputs={"name": "you"}, max_parallel_executions=2)
    error = error_of(client.post(LP, json=changed), 409)
    assert error["paths"] == ["fixed_inputs.greeting"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"default_inputs": {"nickname": "x"}}, "'nickname' is not an input of the workflow"),
    ({"default_inputs": {"name": 3}}, "input 'name' expects str, got 3"),
    ({"fixed_inputs": {"greeting": None}}, "input 'greeting' expects str, got null"),
    ({"fixed_inputs": {"name": "a"}, "default_inputs": {"name": "b"}},
     "both fixed and default"),
    ({"schedule": {"cron": "* * * * *"}}, "schedule has unknown field(s) ['cron']"),
    ({"max_parallel_executions": 0}, "max_parallel_executions"),
    ({"default_inputs": {"name": float("nan")}}, "JSON cannot represent"),
])
def test_launch_plans_with_bad_inputs_are_refused(client: TestClient, greeter: dict[str, Any],
                                                  spec: dict[str, Any], expected: str) -> None:
    # Sent as text: a well-behaved client library would refuse to write NaN.
    text_ = json.dumps(launch_plan_body(greeter, "bad", **spec))
    response = client.post(LP, content=text_, headers={"Content-Type": "application/json"})
    assert expected in error_of(response, 400)["message"]


def test_a_launch_plan_needs_its_workflow_registered(client: TestClient,
                                                     greeter: dict[str, Any]) -> None:
    missing = {**greeter, "version": "never-registered"}
    error = error_of(client.post(LP, json=launch_plan_body(missing, "orphan")), 400)
    assert "never-registered, which is not registered" in error["message"]


def test_pickled_inputs_cannot_be_given_through_the_api(store: AdminStore,
                                                        client: TestClient) -> None:
    wf_id = register_workflow(client, admin_wfs.sized)
    blob = {"b": {"pickle": "gASVAA=="}}
    body = launch_plan_body(wf_id, "with_blob", default_inputs=blob)
    error = error_of(client.post(LP, json=body), 400)
    assert "pickled Python objects" in error["message"]
    default_plan = Identifier.from_dict({**wf_id, "resource_type": "launch_plan"})
    with pytest.raises(InvalidArgumentError, match="pickled Python objects"):
        store.resolve_launch_inputs(default_plan, blob)


def activate(client: TestClient, body: dict[str, Any], state: str = "ACTIVE") -> Any:
    response = client.put(f"{LP}/{path_of(body['id'])}", json={"state": state})
    assert response.status_code == 200, response.text
    return response.json()


def active_versions(client: TestClient) -> list[str]:
    plans = client.get("/api/v1/active_launch_plans/flytesnacks/development").json()
    return [p["id"]["version"] for p in plans["launch_plans"]]


def test_activating_a_version_deactivates_the_others(client: TestClient,
                                                     greeter: dict[str, Any]) -> None:
    v1, v2 = (launch_plan_body(greeter, "nightly", version=v) for v in ("v1", "v2"))
    for body in (v1, v2):
        client.post(LP, json=body).raise_for_status()
    assert active_versions(client) == []

    assert activate(client, v1)["state"] == "ACTIVE"
    assert active_versions(client) == ["v1"]
    activate(client, v2)
    assert active_versions(client) == ["v2"]
    assert client.get(f"{LP}/{path_of(v1['id'])}").json()["state"] == "INACTIVE"
    active = client.get("/api/v1/active_launch_plans/flytesnacks/development/nightly")
    assert active.json()["id"]["version"] == "v2"

    activate(client, v2)  # activating the active version again changes nothing
    assert active_versions(client) == ["v2"]
    assert activate(client, v2, "INACTIVE")["state"] == "INACTIVE"
    assert active_versions(client) == []
    error_of(client.get("/api/v1/active_launch_plans/flytesnacks/development/nightly"), 404)


def test_activation_of_unknown_versions_and_states_is_refused(
        client: TestClient, greeter: dict[str, Any]) -> None:
    body = launch_plan_body(greeter, "nightly")
    client.post(LP, json=body).raise_for_status()
    error_of(client.put(f"{LP}/flytesnacks/development/nightly/v9",
                        json={"state": "ACTIVE"}), 404)
    error_of(client.put(f"{LP}/{path_of(body['id'])}", json={"state": "ON"}), 400)
    error_of(client.put(f"{LP}/{path_of(body['id'])}", json={}), 400)


def test_two_threads_activating_two_versions_leave_exactly_one_active(
        admin_url: str, client: TestClient, greeter: dict[str, Any]) -> None:
    versions = ["v1", "v2"]
    for v in versions:
        client.post(LP, json=launch_plan_body(greeter, "racy", version=v)).raise_for_status()
    stores = [AdminStore(admin_url) for _ in versions]
    rounds = 15
    barrier = threading.Barrier(len(versions))
    errors: list[BaseException] = []
    seen_active: list[list[str]] = []

    def activator(i: int) -> None:
        ident = Identifier(ResourceType.LAUNCH_PLAN, "flytesnacks", "development", "racy",
                           versions[i])
        try:
            for _ in range(rounds):
                # Every round starts with no version active: both activations then race
                # to find nothing to deactivate.
                barrier.wait(timeout=30)
                stores[i].set_launch_plan_state(ident, "ACTIVE")
                barrier.wait(timeout=30)
                if i == 0:  # both activations of this round are done
                    page = stores[0].active_launch_plans("flytesnacks", "development")
                    seen_active.append([e.id.version for e in page.items])
                barrier.wait(timeout=30)
                stores[i].set_launch_plan_state(ident, "INACTIVE")
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=activator, args=(i,)) for i in range(len(versions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for admin in stores:
        admin.close()
    assert not errors, [repr(e) for e in errors]
    assert len(seen_active) == rounds
    assert all(len(active) == 1 and active[0] in versions for active in seen_active)


def test_the_database_refuses_a_second_active_version(
        admin_url: str, client: TestClient, greeter: dict[str, Any]) -> None:
    for v in ("v1", "v2"):
        client.post(LP, json=launch_plan_body(greeter, "guarded", version=v)).raise_for_status()
    activate(client, launch_plan_body(greeter, "guarded", version="v1"))
    engine = create_engine(admin_url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE admin_launch_plans SET state = 'ACTIVE' "
                              "WHERE name = 'guarded' AND version = 'v2'"))
    finally:
        engine.dispose()


def test_launch_inputs_merge_defaults_and_refuse_fixed_ones(
        store: AdminStore, client: TestClient, greeter: dict[str, Any]) -> None:
    fixed = launch_plan_body(greeter, "formal", fixed_inputs={"greeting": "Good evening"})
    defaulted = launch_plan_body(greeter, "defaulted", default_inputs={"name": "you"})
    for body in (fixed, defaulted):
        client.post(LP, json=body).raise_for_status()
    default_plan = Identifier.from_dict({**greeter, "resource_type": "launch_plan"})

    assert store.resolve_launch_inputs(lp_id(fixed), {"name": "Ada"}) == {
        "name": "Ada", "greeting": "Good evening"}
    assert store.resolve_launch_inputs(lp_id(defaulted), {}) == {
        "name": "you", "greeting": "Hello"}
    assert store.resolve_launch_inputs(lp_id(defaulted), {"name": "Bo", "greeting": "Yo"}) == {
        "name": "Bo", "greeting": "Yo"}
    assert store.resolve_launch_inputs(default_plan, {"name": "Cy"}) == {
        "name": "Cy", "greeting": "Hello"}

    with pytest.raises(InvalidArgumentError, match="input 'greeting' is fixed"):
        store.resolve_launch_inputs(lp_id(fixed), {"name": "Ada", "greeting": "Hi"})
    with pytest.raises(InvalidArgumentError, match="no value for required input.*'name'"):
        store.resolve_launch_inputs(default_plan, {})
    with pytest.raises(InvalidArgumentError, match="input 'name' expects str"):
        store.resolve_launch_inputs(default_plan, {"name": ["Ada"]})
    with pytest.raises(InvalidArgumentError, match="'nickname' is not an input"):
        store.resolve_launch_inputs(default_plan, {"name": "Ada", "nickname": "A"})
