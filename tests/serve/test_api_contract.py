"""The admin API keeps its OpenAPI contract: schemathesis runs every operation with all its
checks (status codes, response schemas and headers, Allow on 405, schema-valid data
accepted, invalid data refused, links followed by the stateful phase), in-process, with a
fixed seed; and without a token every call but GET /healthz is a 401.

The server runs executions on the session's Ray cluster, and starts seeded: a workflow
registered and one execution of it SUCCEEDED. Every scenario of the stateful phase
begins by replaying that registration and that launch (idempotent: 200, nothing new
runs) and listing its nodes, so the links lead from them, with real names, to the
reads of entities, executions, node executions, their data, change feeds and logs, and
to relaunches and recoveries. Executions it starts are killed with their executors at
the end.

What JSON Schema cannot state is allowed as a 400 on exactly the operations it concerns:
a registration's spec must carry the request's id, a project lists each domain once, a log
is read by ?tail= or ?since=, not both, a launch's inputs must be its target's. Page
tokens are opaque: the listings are asked for their first page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import ray
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.errors import FlakyStrategyDefinition
from hypothesis.stateful import Bundle, initialize, run_state_machine_as_test
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.config import Settings
from serve.app import create_app
from serve.control.launcher import RayLauncher
from serve.store import AdminStore
from serve.store.identifiers import json_schema
from tests.conftest import _start_shared
from tests.fixtures import basic_wfs
from tests.serve.conftest import FAST as LIVENESS
from tests.serve.conftest import kill_executors
from tests.serve.remote import launch, wait_for
from tests.serve.specs import register_workflow, workflow_body

pytestmark = pytest.mark.timeout(180)

TOKEN = "contract-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
_ALSO_400 = {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "400"]}}
CONFIG: dict[str, Any] = {
    "seed": 18,
    "parameters": {"token": ""},
    "operations": [
        {"include-path-regex": "^/api/v1/(tasks|workflows|launch_plans|projects)$",
         "include-method": "POST", "checks": _ALSO_400},
        {"include-path": "/api/v1/logs/{project}/{domain}/{name}/{node_id}",
         "checks": _ALSO_400},
        {"include-path": "/api/v1/executions", "include-method": "POST",
         "checks": _ALSO_400},
        # A project is made once: replayed, a scenario would get 409 where it got 201 and
        # follow other links (its links lead to listings the seeds reach too).
        {"include-path": "/api/v1/projects", "include-method": "POST",
         "phases": {"stateful": {"enabled": False}}},
        # Their execution is named in the body: the check counts a link followed by its
        # path parameters alone, and takes a body drawn without the link's id for one.
        {"include-path-regex": "^/api/v1/executions/(relaunch|recover)$",
         "checks": {"ensure_resource_availability": {"enabled": False}}},
    ],
}
LAUNCHES = {"/api/v1/executions", "/api/v1/executions/relaunch", "/api/v1/executions/recover"}
FAST = settings(max_examples=12, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

# The seeded registration and launch; replayed, each answers 200 with what it made.
REGISTRATION = workflow_body(basic_wfs.chain)
SEED = {"project": REGISTRATION["id"]["project"], "domain": REGISTRATION["id"]["domain"],
        "name": "contract-seed", "inputs": {"n": 1},
        "workflow": {k: REGISTRATION["id"][k] for k in ("name", "version")}}


def _routes_only(app: ASGIApp) -> ASGIApp:
    """``app`` without its lifespan, for schemathesis. The fixture's TestClient runs the
    lifespan (supervisor, scheduler, notifier) once, and ends it at teardown;
    schemathesis would start a second one on the same objects and keep it to the end of
    the process."""

    async def routes(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)

    return routes


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The API on a SQLite file with a token, running executions on the session's
    cluster, seeded with a registered workflow and one SUCCEEDED execution of it;
    executions started afterwards are killed with their executors at the end."""
    if not ray.is_initialized():
        _start_shared()
    home: Path = tmp_path_factory.mktemp("contract")
    store = AdminStore(f"sqlite:///{home}/admin.db")
    # Limits high enough that a run's own requests never meet them.
    application = create_app(Settings(home=home, admin_token=TOKEN, admin_rate_limit=0,
                                      admin_launch_rate_limit=0),
                             store=store, launcher=RayLauncher(), liveness=LIVENESS)
    try:
        with TestClient(application, headers=AUTH) as client:
            register_workflow(client, basic_wfs.chain)
            wait_for(client, launch(client, **SEED)["id"]["name"])
            yield application
    finally:
        kill_executors()
        store.close()


def _schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", _routes_only(app), headers=AUTH,
                                          config=SchemathesisConfig.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("contract_schema")


@pytest.fixture(scope="module")
def contract_schema(app: Any) -> Any:
    return _schema(app)


@schema.parametrize()
@FAST
def test_every_operation_keeps_the_contract(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH)


@schema.parametrize()
@settings(FAST, max_examples=3)
def test_without_a_token_every_call_is_refused(case: schemathesis.Case) -> None:
    response = case.call()
    if case.path == "/healthz":
        assert response.status_code in (200, 405)
    else:
        assert response.status_code == 401, (case.method, case.path, response.text)
        assert response.json()["error"]["kind"] == "UNAUTHENTICATED"


# Reads the links must reach from the seeds, answering 2xx with real names.
_EXECUTION = "/api/v1/executions/{project}/{domain}/{name}"
_NODE = "{project}/{domain}/{name}/{node_id}"
REACHED = {f"GET {_EXECUTION}", f"GET {_EXECUTION}/changes",
           "GET /api/v1/node_executions/{project}/{domain}/{name}",
           f"GET /api/v1/node_executions/{_NODE}", f"GET /api/v1/data/node_executions/{_NODE}",
           "GET /api/v1/data/executions/{project}/{domain}/{name}",
           "GET /api/v1/workflows/{project}/{domain}/{name}/{version}"}


def test_stateful_links_keep_the_contract(contract_schema: Any) -> None:
    machine = contract_schema.as_state_machine()
    answered: dict[str, set[int]] = {}

    class Seeded(machine):  # type: ignore[misc,valid-type]
        replays: ClassVar[set[str]] = set()  # the ids of the seeds' cases

        @initialize(target=Bundle("seeds"))
        def replay_the_registration(self) -> StepOutput:
            return self._replay("POST", "/api/v1/workflows", body=REGISTRATION)

        @initialize(target=Bundle("seeds"))
        def replay_the_launch(self) -> StepOutput:
            return self._replay("POST", "/api/v1/executions", body=SEED)

        @initialize(target=Bundle("seeds"))
        def list_the_seeded_nodes(self) -> StepOutput:
            return self._replay("GET", "/api/v1/node_executions/{project}/{domain}/{name}",
                                path_parameters={k: SEED[k] for k in ("project", "domain",
                                                                      "name")})

        def _replay(self, method: str, path: str, **parts: Any) -> StepOutput:
            """Make the call again, checked as any step; its answer feeds the links."""
            case = self.schema[path][method].Case(**parts)
            self.replays.add(case.id)
            self.recorder.record_case(case=case)
            output: StepOutput = self.step(StepInput.initial(case))
            assert output.response.status_code == 200, output.response.text
            return output

        def before_call(self, case: schemathesis.Case) -> None:
            if case.query:  # page tokens are opaque: first pages only, as above
                case.query.pop("token", None)
            if case.path in LAUNCHES and isinstance(case.body, dict) and \
                    case.id not in self.replays:
                # The server names what it launches: a scenario replayed with the same
                # drawn name would find it made (200, not 201) and follow other links.
                case.body.pop("name", None)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": AUTH}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered.setdefault(case.operation.label, set()).add(response.status_code)

        def validate_response(self, response: Any, case: schemathesis.Case,
                              *args: Any, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, *args, **kwargs)
            except FailureGroup as failure:
                failures.append(failure)
                raise

    failures: list[FailureGroup] = []
    # When the server's state moved on under a replayed scenario (an execution ended, a
    # link's value drawn otherwise), other links were open to it: exploration ends
    # there, as in schemathesis's own runner. Every call made was checked.
    with contextlib.suppress(FlakyStrategyDefinition):
        run_state_machine_as_test(Seeded, settings=settings(
            FAST, max_examples=60, stateful_step_count=10))
    assert not failures, failures
    succeeded = {label for label, codes in answered.items() if min(codes) < 300}
    print(f"stateful phase: {len(answered)} operations called, {len(succeeded)} answered 2xx")
    assert succeeded >= REACHED, sorted(REACHED - succeeded)


def test_the_document_states_the_store_rules_and_links(app: Any) -> None:
    document = app.openapi()
    get = document["paths"]["/api/v1/tasks/{project}/{domain}/{name}/{version}"]["get"]
    schemas = {p["name"]: p["schema"] for p in get["parameters"] if p["in"] == "path"}
    for field in ("project", "domain", "name", "version"):
        rule = json_schema(field)
        assert {k: schemas[field][k] for k in ("pattern", "maxLength")} == {
            "pattern": rule["pattern"], "maxLength": rule["maxLength"]}
    created = document["paths"]["/api/v1/projects"]["post"]["responses"]
    assert {"200", "201"} <= set(created) and "422" not in created
    assert "links" in created["201"]
    links = document["paths"]["/api/v1/tasks"]["post"]["responses"]["201"]["links"]
    assert links["get_task"]["parameters"]["version"] == "$response.body#/id/version"
