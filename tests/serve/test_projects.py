"""Projects and domains through the API, over SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures import basic_wfs
from tests.serve.conftest import MakeClient
from tests.serve.specs import error_of, task_body


def test_the_default_project_exists_with_the_three_domains(client: TestClient) -> None:
    project = client.get("/api/v1/projects/flytesnacks")
    assert project.status_code == 200
    assert [d["id"] for d in project.json()["domains"]] == ["development", "staging",
                                                           "production"]


def test_create_a_project_and_register_into_it(client: TestClient) -> None:
    created = client.post("/api/v1/projects", json={"id": "ml", "name": "Machine learning",
                                                    "description": "models"})
    assert created.status_code == 201, created.text
    assert [d["id"] for d in created.json()["domains"]] == ["development", "staging",
                                                           "production"]
    listed = client.get("/api/v1/projects").json()["projects"]
    # By name, byte order on every backend: "Machine learning" < "flytesnacks".
    assert [p["id"] for p in listed] == ["ml", "flytesnacks"]

    body = task_body(basic_wfs.add)
    for ident in (body["id"], body["spec"]["id"]):
        ident["project"] = "ml"
    assert client.post("/api/v1/tasks", json=body).status_code == 201
    assert client.get("/api/v1/tasks/ml/development").json()["tasks"][0]["id"] == body["id"]
    assert client.get("/api/v1/tasks/flytesnacks/development").json()["tasks"] == []


def test_a_project_with_its_own_domains(client: TestClient) -> None:
    body = {"id": "team-a", "name": "Team A",
            "domains": [{"id": "dev", "name": "Dev"}, {"id": "prod", "name": "Prod"}]}
    assert client.post("/api/v1/projects", json=body).status_code == 201
    error = error_of(client.get("/api/v1/tasks/team-a/development"), 404)
    assert "project 'team-a' has no domain 'development'; its domains are dev, prod" in (
        error["message"])
    assert client.get("/api/v1/tasks/team-a/dev").json() == {"tasks": [], "token": ""}


def test_creating_a_project_again_is_a_no_op_unless_it_differs(client: TestClient) -> None:
    body = {"id": "ml", "name": "ML", "description": "models"}
    assert client.post("/api/v1/projects", json=body).status_code == 201
    assert client.post("/api/v1/projects", json=body).status_code == 200
    error = error_of(client.post("/api/v1/projects", json={**body, "description": "x"}), 409)
    assert error["paths"] == ["description"]


def test_invalid_projects_are_refused(client: TestClient) -> None:
    for body in ({"id": "Has Spaces"}, {"id": ""}, {"id": "x" * 64}, {"id": "ok", "extra": 1},
                 {"id": "ok", "domains": []},
                 {"id": "ok", "domains": [{"id": "dev", "name": "a"},
                                          {"id": "dev", "name": "b"}]},
                 {"id": "ok", "domains": [{"id": "Dev/1", "name": "a"}]},
                 {"id": "ok", "name": "   "}):
        error_of(client.post("/api/v1/projects", json=body), 400)
    error_of(client.get("/api/v1/projects/unknown"), 404)
    error_of(client.get("/api/v1/projects/UPPER"), 400)


def test_the_configured_default_project_and_domain_are_created(make_client: MakeClient) -> None:
    client = make_client(project="research", domain="qa")
    project = client.get("/api/v1/projects/research").json()
    assert [d["id"] for d in project["domains"]] == ["development", "staging", "production",
                                                     "qa"]
