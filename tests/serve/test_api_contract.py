"""The admin API keeps its OpenAPI contract: schemathesis runs every operation with all its
checks (status codes, response schemas and headers, Allow on 405, schema-valid data
accepted, invalid data refused, links followed by the stateful phase), in-process, with a
fixed seed; and without a token every call but GET /healthz is a 401.

The server runs without a launcher (no Ray): its launches answer the documented 503.
What JSON Schema cannot state is allowed as a 400 on exactly the operations it concerns:
a registration's spec must carry the request's id, a project lists each domain once, a log
is read by ?tail= or ?since=, not both. Page tokens are opaque: the listings are asked
for their first page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig

from engine.config import Settings
from serve.app import create_app
from serve.store import AdminStore
from serve.store.identifiers import json_schema
from tests.fixtures import basic_wfs
from tests.serve.specs import register_workflow

pytestmark = pytest.mark.timeout(180)

TOKEN = "contract-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
CONFIG: dict[str, Any] = {
    "seed": 18,
    "parameters": {"token": ""},
    "operations": [
        {"include-path-regex": "^/api/v1/(tasks|workflows|launch_plans|projects)$",
         "include-method": "POST",
         "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "400"]}}},
        {"include-path": "/api/v1/logs/{project}/{domain}/{name}/{node_id}",
         "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "400"]}}},
        {"include-path-regex": "^/api/v1/executions(/relaunch|/recover)?$",
         "include-method": "POST", "checks": {"not_a_server_error": {"enabled": False}}},
    ],
}
LAUNCHES = {"/api/v1/executions", "/api/v1/executions/relaunch", "/api/v1/executions/recover"}
FAST = settings(max_examples=12, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The API on a SQLite file with a token, seeded with registered entities."""
    home: Path = tmp_path_factory.mktemp("contract")
    store = AdminStore(f"sqlite:///{home}/admin.db")
    # Limits high enough that a run's own requests never meet them.
    application = create_app(Settings(home=home, admin_token=TOKEN, admin_rate_limit=0,
                                      admin_launch_rate_limit=0), store=store)
    with TestClient(application, headers=AUTH) as client:
        register_workflow(client, basic_wfs.chain)
        yield application
    store.close()


def _schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH,
                                          config=SchemathesisConfig.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("contract_schema")


@pytest.fixture(scope="module")
def contract_schema(app: Any) -> Any:
    return _schema(app)


@schema.parametrize()
@FAST
def test_every_operation_keeps_the_contract(case: schemathesis.Case) -> None:
    response = case.call_and_validate(headers=AUTH)
    if case.path in LAUNCHES and response.status_code >= 500:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["kind"] == "UNAVAILABLE"


@schema.parametrize()
@settings(FAST, max_examples=3)
def test_without_a_token_every_call_is_refused(case: schemathesis.Case) -> None:
    response = case.call()
    if case.path == "/healthz":
        assert response.status_code in (200, 405)
    else:
        assert response.status_code == 401, (case.method, case.path, response.text)
        assert response.json()["error"]["kind"] == "UNAUTHENTICATED"


def test_stateful_links_keep_the_contract(contract_schema: Any) -> None:
    machine = contract_schema.as_state_machine()

    class Authorized(machine):  # type: ignore[misc,valid-type]
        def before_call(self, case: schemathesis.Case) -> None:
            if case.query:  # page tokens are opaque: first pages only, as above
                case.query.pop("token", None)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": AUTH}

    run_state_machine_as_test(Authorized, settings=settings(
        FAST, max_examples=15, stateful_step_count=6))


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
