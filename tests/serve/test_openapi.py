"""The OpenAPI document, and every operation in it fed junk: never a server error, always
the JSON error shape (a small schemathesis)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures import basic_wfs
from tests.serve.specs import register_workflow

JUNK_SEGMENTS = ["x", "..", "%00", "a" * 600, "Ünï", "-", "flytesnacks", "development",
                 "tests.fixtures.basic_wfs.chain", "%2F", "v1 v2"]
JUNK_QUERIES: list[dict[str, Any]] = [
    {}, {"limit": "-1"}, {"limit": "abc"}, {"limit": "99999999999999999999"},
    {"token": "%%%"}, {"token": "eyJrIjoxfQ"}, {"sort_by.key": "name", "token": "e30"},
    {"sort_by.key": "?"}, {"sort_by.direction": "SIDEWAYS"}, {"name": "\x00"},
    {"name_contains": "%_\\"}, {"name": "a/b"},
]
JUNK_BODIES: list[bytes | None] = [
    None, b"", b"not json", b"[]", b"{}", b"null", b'{"id": 1, "spec": []}',
    b'{"id": {"resource_type": "nope"}, "spec": {}}',
    b'{"state": "ACTIVE"}', b'{"id": "flytesnacks"}', b"[" * 5000 + b"]" * 5000,
    json.dumps({"id": {"resource_type": "task", "project": "flytesnacks",
                       "domain": "development", "name": "t", "version": "1"},
                "spec": {"id": {"resource_type": "task", "project": "flytesnacks",
                                "domain": "development", "name": "t", "version": "1"},
                         "interface": {"inputs": [{"name": "a", "type": {"kind": "map"}}],
                                       "outputs": []}}}).encode(),
    b'{"id": {"resource_type": "task", "project": "flytesnacks", "domain": "development",'
    b' "name": "t", "version": "1"}, "spec": {"x": NaN, "y": "\\u0000"}}',
]


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    return [(path, method.upper(), operation)
            for path, methods in document["paths"].items()
            for method, operation in methods.items()]


def test_openapi_document_and_docs_are_served(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "Flyray admin"
    paths = set(document["paths"])
    for expected in ("/healthz", "/api/v1/projects", "/api/v1/tasks",
                     "/api/v1/tasks/{project}/{domain}/{name}/{version}",
                     "/api/v1/task_ids/{project}/{domain}", "/api/v1/workflows",
                     "/api/v1/workflow_ids/{project}/{domain}",
                     "/api/v1/launch_plans/{project}/{domain}/{name}/{version}",
                     "/api/v1/launch_plan_ids/{project}/{domain}",
                     "/api/v1/active_launch_plans/{project}/{domain}",
                     "/api/v1/executions", "/api/v1/executions/relaunch",
                     "/api/v1/executions/recover", "/api/v1/executions/{project}/{domain}",
                     "/api/v1/executions/{project}/{domain}/{name}",
                     "/api/v1/node_executions/{project}/{domain}/{name}",
                     "/api/v1/node_executions/{project}/{domain}/{name}/{node_id}",
                     "/api/v1/data/executions/{project}/{domain}/{name}",
                     "/api/v1/data/node_executions/{project}/{domain}/{name}/{node_id}"):
        assert expected in paths
    assert all(p == "/healthz" or p.startswith("/api/v1/") for p in paths)
    put = document["paths"]["/api/v1/launch_plans/{project}/{domain}/{name}/{version}"]["put"]
    assert "requestBody" in put
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_every_operation_answers_junk_without_a_server_error(client: TestClient) -> None:
    wf_id = register_workflow(client, basic_wfs.chain)  # so some junk hits real rows
    segments = [*JUNK_SEGMENTS, wf_id["version"]]
    tried = 0
    for path, method, operation in operations(client):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        for i in range(len(segments)):
            # Each path parameter gets another junk segment, so combinations vary.
            url = path.format(**{n: segments[(i + j) % len(segments)]
                                 for j, n in enumerate(names)})
            query = JUNK_QUERIES[i % len(JUNK_QUERIES)]
            if "requestBody" not in operation:
                bodies: list[bytes | None] = [None]
            else:
                bodies = JUNK_BODIES if i < 2 else [JUNK_BODIES[i % len(JUNK_BODIES)]]
            for body in bodies:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                response = client.request(method, url, params=query, content=body,
                                          headers=headers)
                tried += 1
                assert response.status_code < 500, (method, url, query, body, response.text)
                if response.status_code >= 400:
                    error = response.json()["error"]
                    assert error["kind"] and error["message"], (method, url, response.text)
    assert tried > 250


def test_unknown_paths_and_methods_answer_the_error_shape(client: TestClient) -> None:
    for method, path, status in (("GET", "/api/v2/tasks", 404), ("DELETE", "/api/v1/tasks", 405),
                                 ("GET", "/api/v1/tasks", 405),
                                 ("POST", "/api/v1/tasks/flytesnacks/development", 405)):
        response = client.request(method, path)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["error"]["kind"] in ("NOT_FOUND", "METHOD_NOT_ALLOWED")
