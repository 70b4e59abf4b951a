"""The guards in front of the API: the bearer token, the request body limit (every route's
token and scope: test_tokens.py)."""

from __future__ import annotations

from collections.abc import Iterator

from tests.fixtures import basic_wfs
from tests.serve.conftest import MakeClient
from tests.serve.specs import error_of, task_body

TOKEN = "s3cret-token"


def test_mutating_calls_need_the_bearer_token_when_one_is_set(make_client: MakeClient) -> None:
    client = make_client(admin_token=TOKEN)
    body = task_body(basic_wfs.add)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}):
        response = client.post("/api/v1/tasks", json=body, headers=headers)
        error = error_of(response, 401)
        assert error["kind"] == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    for method in ("PUT", "PATCH", "DELETE"):
        error_of(client.request(method, "/api/v1/launch_plans/flytesnacks/development/x/v1",
                                json={"state": "ACTIVE"}), 401)
    # Nothing was registered by the refused calls; reads need the token too.
    error_of(client.get("/api/v1/tasks/flytesnacks/development"), 401)
    assert client.get("/api/v1/tasks/flytesnacks/development",
                      headers={"Authorization": f"Bearer {TOKEN}"}).json()["tasks"] == []
    assert client.get("/healthz").status_code == 200

    accepted = client.post("/api/v1/tasks", json=body,
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert accepted.status_code == 201, accepted.text
    lowercase_scheme = client.post("/api/v1/tasks", json=body,
                                   headers={"Authorization": f"bearer {TOKEN}"})
    assert lowercase_scheme.status_code == 200


def test_without_a_token_set_mutating_calls_are_open(make_client: MakeClient) -> None:
    client = make_client()
    assert client.post("/api/v1/tasks", json=task_body(basic_wfs.add)).status_code == 201


def test_bodies_over_the_limit_are_refused_before_reading_them_all(
        make_client: MakeClient) -> None:
    body = task_body(basic_wfs.add)
    client = make_client(admin_max_request_bytes=4096)
    padded = {"id": body["id"], "spec": {**body["spec"], "padding": "x" * 5000}}
    error = error_of(client.post("/api/v1/tasks", json=padded), 413)
    assert error["kind"] == "PAYLOAD_TOO_LARGE" and "4096 bytes" in error["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it comes
        for _ in range(10):
            yield b" " * 1000

    streamed = client.post("/api/v1/tasks", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert "Content-Length" not in streamed.request.headers
    error_of(streamed, 413)
    error_of(client.post("/api/v1/tasks", content=b"{}", headers={"Content-Length": "abc"}),
             400)
    assert client.post("/api/v1/tasks", json=body).status_code == 201
