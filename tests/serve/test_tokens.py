"""Tokens on every call: each method of each route refuses a call without a token (401),
with a token the server does not take (401) or with too small a scope (403); the only
exceptions are matched exactly; scoped tokens rotate through their file without a
restart, ending the console sessions signed in with them."""

from __future__ import annotations

import hmac
import io
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route
from starlette.websockets import WebSocketDisconnect

from engine.cli.main import cli
from engine.config import Settings
from engine.errors import ConfigError
from serve.api.security import ADMIN_CALLS, MUTATING, needed_scope
from serve.api.tokens import Scope, Tokens, main, session_value, token_hash
from serve.app import create_app
from tests.served import serving
from tests.servers import free_port

ADMIN, READ, WRITE = "admin-7f3a", "read-91c2", "write-4be8"
# Console routes that answer without a session: the login form, and the logout (its
# CSRF check refuses a call from elsewhere).
SIGN_IN = frozenset({"/console/login", "/console/logout"})


def tokens_file(path: Path, **tokens: str) -> Path:
    path.write_text("# scoped tokens of the tests\n\n" + "".join(
        f"{scope}:{token_hash(token)}  # {name}\n" for name, (scope, token) in
        ((n, v.split("=", 1)) for n, v in tokens.items())))
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TestClient]:
    """The admin API (SQLite under ``tmp_path``) with the admin token and a read and a
    write token in a tokens file."""
    path = tokens_file(tmp_path / "tokens", ro=f"read={READ}", rw=f"write={WRITE}")
    settings = Settings(home=tmp_path, admin_token=ADMIN, admin_tokens_file=str(path))
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def routes(items: list[Any]) -> Iterator[Any]:
    """Every route of the app, those of included routers too, but the static files."""
    for route in items:
        if hasattr(route, "effective_route_contexts"):  # an included router
            yield from route.effective_route_contexts()
        elif not isinstance(route, Mount):  # the console's static files: open
            assert isinstance(route, (APIRoute, Route)), route  # a websocket: test it
            yield route


def calls(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, concrete path, route path) of every method of every route of the app."""
    return [(method, re.sub(r"\{[^}]+\}", "x", route.path), route.path)
            for route in routes(client.app.routes)  # type: ignore[attr-defined]
            for method in sorted(route.methods or ())]


def send(client: TestClient, method: str, path: str, **kwargs: Any) -> int:
    body = {"json": {}} if method in MUTATING else {}
    status: int = client.request(method, path, **body, **kwargs).status_code
    return status


def test_every_route_refuses_calls_without_a_sufficient_token(server: TestClient) -> None:
    every = calls(server)
    assert len(every) > 40 and ("POST", "/api/v1/executors/drain", "/api/v1/executors/drain") \
        in every and {c[2] for c in every} >= {"/openapi.json", "/docs", "/healthz"}
    assert {(m, p) for m, _, p in every} >= ADMIN_CALLS  # no admin call was renamed away
    for method, path, route in every:
        if route == "/healthz" or route in SIGN_IN:
            continue
        where = f"{method} {path}"
        # The console checks its own session (401 to a script, the login page to a page).
        assert send(server, method, path) == 401, where
        assert send(server, method, path, headers=bearer("wrong")) in (401, 303), where
        if route.startswith("/console"):
            continue
        assert send(server, method, path, headers=bearer("wrong")) == 401, where
        assert send(server, method, path, headers={"Authorization": READ}) == 401, where
        for token, scope in ((READ, Scope.READ), (WRITE, Scope.WRITE), (ADMIN, Scope.ADMIN)):
            status = send(server, method, path, headers=bearer(token))
            if scope < needed_scope(method, route):
                assert status == 403, f"{where} with a {scope.label} token: {status}"
            else:
                assert status not in (401, 403), f"{where} with a {scope.label} token"
    assert server.get("/healthz").status_code == 200


def test_open_paths_are_matched_exactly(server: TestClient) -> None:
    created = server.post("/api/v1/projects", json={"id": "xhealthz", "name": "xhealthz"},
                          headers=bearer(ADMIN))
    assert created.status_code == 201, created.text
    for path in ("/api/v1/projects/xhealthz", "/api/v1/projects/healthz", "/xhealthz",
                 "/healthz/", "/HEALTHZ", "/api/v1/healthz", "/healthzx", "/consolex/",
                 "/healthz/../api/v1/projects"):
        assert server.get(path).status_code == 401, path
    assert server.get("/api/v1/projects/xhealthz", headers=bearer(READ)).status_code == 200
    with pytest.raises(WebSocketDisconnect), server.websocket_connect("/api/v1/projects"):
        pass


def test_console_sessions_read_the_api_and_nothing_more(server: TestClient) -> None:
    for token, scope in ((READ, "read"), (ADMIN, "admin")):
        cookie = {"Cookie": f"flyray_session={session_value(token)}"}
        assert server.get("/api/v1/projects", headers=cookie).status_code == 200, scope
        # Never for a call that changes state: a browser sends cookies to forged forms.
        assert send(server, "POST", "/api/v1/tasks", headers=cookie) == 401, scope
    read = {"Cookie": f"flyray_session={session_value(READ)}", "Accept": "application/json"}
    assert server.get("/console/", headers=read).status_code == 200
    terminate = "/console/projects/p/domains/d/executions/x/terminate"
    csrf = secrets.token_urlsafe(32)
    for token, allowed in ((READ, False), (WRITE, True)):
        form = {"Cookie": f"flyray_session={session_value(token)}; flyray_csrf={csrf}",
                "X-CSRF-Token": csrf, "Accept": "application/json"}
        answer = server.post(terminate, headers=form, follow_redirects=False)
        if allowed:
            assert answer.status_code not in (401, 403), answer.text
        else:
            assert answer.status_code == 403 and "read scope" in answer.text, answer.text
    # The session cookie is a keyed hash: presented as a bearer token, it is refused.
    assert send(server, "GET", "/api/v1/projects", headers=bearer(session_value(ADMIN))) == 401


def test_rotation_through_the_file_ends_tokens_and_their_sessions(tmp_path: Path) -> None:
    path = tokens_file(tmp_path / "tokens", old=f"write={WRITE}", new=f"write={READ}")
    settings = Settings(home=tmp_path, admin_tokens_file=str(path))
    with TestClient(create_app(settings)) as client:
        session = {"Cookie": f"flyray_session={session_value(WRITE)}"}
        for headers in (bearer(WRITE), bearer(READ), session):
            assert client.get("/api/v1/projects", headers=headers).status_code == 200
        tokens_file(path, new=f"write={READ}")  # the old token's line is gone
        for headers in (bearer(WRITE), session):
            assert client.get("/api/v1/projects", headers=headers).status_code == 401
        assert client.get("/api/v1/projects", headers=bearer(READ)).status_code == 200
        page = client.get("/console/", headers={**session, "Accept": "text/html"},
                          follow_redirects=False)
        assert page.status_code == 303 and "/console/login" in page.headers["location"]

        path.write_text("write:not-a-hash\n")  # broken: fail closed, not open
        assert client.get("/api/v1/projects", headers=bearer(READ)).status_code == 401
        path.unlink()  # gone: still closed
        assert client.get("/api/v1/projects").status_code == 401
        tokens_file(path, back=f"read={READ}")
        assert client.get("/api/v1/projects", headers=bearer(READ)).status_code == 200


def test_a_broken_tokens_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    for text, says in (("root:" + "0" * 64, "line 1"), ("read:abc", "64 hex digits"),
                       (f"read:{token_hash(READ)}\nwrite:{token_hash(READ)}", "already")):
        path.write_text(text)
        with pytest.raises(ConfigError, match=says):
            create_app(Settings(home=tmp_path, admin_tokens_file=str(path)))
    with pytest.raises(ConfigError, match="cannot be read"):
        Tokens(None, str(tmp_path / "missing"))


def test_tokens_are_compared_in_constant_time_against_every_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tokens_file(tmp_path / "tokens", a=f"read={READ}", b=f"write={WRITE}")
    tokens = Tokens(ADMIN, str(path))
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    assert tokens.scope_of_token(ADMIN) == Scope.ADMIN  # the first entry matches...
    assert len(compared) == 3  # ...and every entry is compared all the same
    assert tokens.scope_of_token(READ) == Scope.READ and tokens.scope_of_token("x") is None
    assert READ.encode() not in path.read_bytes()


def test_the_hash_command_prints_a_line_of_the_file(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{WRITE}\n"))
    assert main(["write"]) == 0
    assert capsys.readouterr().out == f"write:{token_hash(WRITE)}\n"
    assert main(["root"]) == 2


@pytest.mark.timeout(60)
def test_the_cli_reads_with_a_token_and_is_refused_without(tmp_path: Path) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    path = tokens_file(tmp_path / "tokens", ro=f"read={READ}")
    app = create_app(Settings(home=tmp_path / "server", admin_endpoint=endpoint,
                              admin_tokens_file=str(path)))
    env = {"FLYRAY_ADMIN_ENDPOINT": endpoint, "FLYRAY_HOME": str(tmp_path / "client"),
           "FLYRAY_ADMIN_TOKEN": ""}
    with serving(app, port, "tokens-api"):
        runner = CliRunner()
        refused = runner.invoke(cli, ["get", "executions"], env=env)
        assert refused.exit_code == 1 and "401 UNAUTHENTICATED" in refused.output
        read = runner.invoke(cli, ["get", "executions"], env={**env, "FLYRAY_ADMIN_TOKEN": READ})
        assert read.exit_code == 0, read.output


def test_listening_beyond_loopback_without_a_token_is_warned_of(tmp_path: Path) -> None:
    from serve.deployment import exposure_warning

    def warning(endpoint: str, **settings: Any) -> str | None:
        return exposure_warning(Settings(home=tmp_path, admin_endpoint=endpoint, **settings))

    exposed = warning("http://0.0.0.0:30080")
    assert exposed is not None and "0.0.0.0:30080" in exposed and "FLYRAY_ADMIN_TOKEN" in exposed
    assert warning("http://admin.example:80") is not None
    for endpoint in ("http://127.0.0.1:30080", "http://localhost:1", "http://[::1]:30080"):
        assert warning(endpoint) is None, endpoint
    assert warning("http://0.0.0.0:30080", admin_token=ADMIN) is None
    assert warning("http://0.0.0.0:30080", admin_tokens_file=str(tmp_path / "t")) is None
