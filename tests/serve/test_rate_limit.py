"""Per-client rate limits of the admin API (serve/api/rate_limit.py): the token buckets on
a clock of the test's own, the 429 answers of the app, the settings, and the client that
waits out a 429 before a CLI command gives up."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from engine.admin_client import AdminClient, AdminRequestError
from engine.cli.main import cli
from engine.config import Settings, load_settings
from engine.errors import ConfigError
from serve.api.rate_limit import MAX_CLIENTS, Buckets, Limit, RateLimiter, creates_execution
from serve.api.tokens import session_value, token_hash
from serve.app import create_app
from tests.engine.cli.conftest import start_admin
from tests.serve.specs import error_of

GENERAL = Limit(rate=2.0, burst=3, settings="admin_rate_limit")
LAUNCHES = Limit(rate=0.5, burst=1, settings="admin_launch_rate_limit")


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(GENERAL, LAUNCHES, clock)
    assert [limiter.take("a", launch=False) for _ in range(3)] == [None] * 3
    refusal = limiter.take("a", launch=False)
    assert refusal is not None and refusal.limit == GENERAL
    assert refusal.wait_s == pytest.approx(0.5)
    assert limiter.take("b", launch=False) is None  # another client has its own bucket
    clock.now += 0.5
    assert limiter.take("a", launch=False) is None
    assert limiter.take("a", launch=False) is not None
    clock.now += 60  # refilled to the burst, never beyond it
    assert [limiter.take("a", launch=False) for _ in range(4)][-1] is not None


def test_creating_an_execution_takes_from_both_buckets_and_a_refusal_from_neither() -> None:
    clock = Clock()
    limiter = RateLimiter(GENERAL, LAUNCHES, clock)
    assert limiter.take("a", launch=True) is None
    refusal = limiter.take("a", launch=True)
    assert refusal is not None and refusal.limit == LAUNCHES
    assert refusal.wait_s == pytest.approx(2.0)
    # The refused launch took nothing: two reads are left of the burst of three.
    reads = [limiter.take("a", launch=False) for _ in range(3)]
    assert reads[:2] == [None, None] and reads[2] is not None
    clock.now += 2.0  # both buckets have refilled by then
    assert limiter.take("a", launch=True) is None


def test_a_rate_of_zero_turns_a_limit_off() -> None:
    limiter = RateLimiter(Limit(0.0, 1, "x"), Limit(0.0, 1, "y"), Clock())
    assert not limiter.enabled
    assert all(limiter.take("a", launch=True) is None for _ in range(100))
    only_launches = RateLimiter(Limit(0.0, 1, "x"), LAUNCHES, Clock())
    assert all(only_launches.take("a", launch=False) is None for _ in range(100))
    assert only_launches.take("a", launch=True) is None
    assert only_launches.take("a", launch=True) is not None


def test_buckets_of_idle_clients_are_dropped_and_their_number_is_bounded() -> None:
    buckets = Buckets(GENERAL)
    for n in range(MAX_CLIENTS + 50):
        buckets.set(f"client-{n}", 0.0, 100.0)
    assert len(buckets) == MAX_CLIENTS  # the least recently used went first
    assert buckets.level("client-0", 100.0) == GENERAL.burst  # dropped: a full bucket
    assert buckets.level(f"client-{MAX_CLIENTS + 49}", 100.0) == 0.0
    # Past burst / rate seconds every bucket is full again, so none is kept.
    buckets.level("anyone", 100.0 + GENERAL.burst / GENERAL.rate)
    assert len(buckets) == 0


def test_the_calls_that_create_executions() -> None:
    for path in ("/api/v1/executions", "/api/v1/executions/relaunch",
                 "/api/v1/executions/recover",
                 "/console/projects/p/domains/d/launch/launch_plan/lp",
                 "/console/projects/p/domains/d/executions/e1/relaunch",
                 "/console/projects/p/domains/d/executions/e1/recover"):
        assert creates_execution("POST", path), path
    for method, path in (("GET", "/api/v1/executions"),
                         ("DELETE", "/api/v1/executions/p/d/e1"),
                         ("POST", "/console/projects/p/domains/d/launch/task/t/validate"),
                         ("POST", "/console/projects/p/domains/d/executions/e1/terminate"),
                         ("POST", "/api/v1/tasks")):
        assert not creates_execution(method, path), (method, path)


def _client(tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(home=tmp_path, **settings)))


def test_a_client_over_the_limit_gets_429_with_retry_after(tmp_path: Path) -> None:
    with _client(tmp_path, admin_rate_limit=0.01, admin_rate_burst=2) as client:
        for path in ("/api/v1/projects", "/console/"):  # reads and pages count alike
            assert client.get(path).status_code == 200
        response = client.get("/api/v1/projects")
        error = error_of(response, 429)
        assert error["kind"] == "RESOURCE_EXHAUSTED"
        assert int(response.headers["Retry-After"]) >= 99
        assert "address testclient" in error["message"]
        assert "FLYRAY_ADMIN_RATE_LIMIT" in error["message"]
        assert "0 turns the limit off" in error["message"]
        error_of(client.post("/api/v1/tasks", json={}), 429)  # refused before validation
        for _ in range(5):  # the health check is never limited
            assert client.get("/healthz").status_code == 200


def test_creating_executions_has_a_smaller_limit(tmp_path: Path) -> None:
    with _client(tmp_path, admin_launch_rate_limit=0.01, admin_launch_rate_burst=1) as client:
        # Every attempt counts, even one the API then refuses as invalid.
        error_of(client.post("/api/v1/executions/relaunch", json={}), 400)
        error = error_of(client.post("/api/v1/executions", json={}), 429)
        assert "FLYRAY_ADMIN_LAUNCH_RATE_LIMIT" in error["message"]
        assert client.get("/api/v1/projects").status_code == 200  # reads go on


def test_a_token_is_its_own_client_and_an_unknown_one_its_address(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"read:{token_hash('reader-token')}\n")
    with _client(tmp_path, admin_rate_limit=0.01, admin_rate_burst=1, admin_token="admin-t",
                 admin_tokens_file=str(tokens)) as client:
        def get(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return client.get("/api/v1/projects", headers=headers).status_code

        assert get("admin-t") == 200
        error = error_of(client.get("/api/v1/projects",
                                    headers={"Authorization": "Bearer admin-t"}), 429)
        assert "this token" in error["message"] and "admin-t" not in error["message"]
        assert get("reader-token") == 200  # another token: another bucket
        # The console's session of a token is that token's client.
        client.cookies.set("flyray_session", session_value("reader-token"))
        assert client.get("/console/").status_code == 429
        client.cookies.clear()
        assert get("made-up") == 401  # the address's one request, refused by the guard
        assert get("another-made-up") == 429  # made-up tokens give no fresh bucket


def test_the_settings_and_their_environment_variables(tmp_path: Path) -> None:
    env = {"FLYRAY_HOME": str(tmp_path), "FLYRAY_ADMIN_RATE_LIMIT": "2.5",
           "FLYRAY_ADMIN_RATE_BURST": "10", "FLYRAY_ADMIN_LAUNCH_RATE_LIMIT": "0",
           "FLYRAY_ADMIN_LAUNCH_RATE_BURST": "3"}
    settings = load_settings(env)
    assert (settings.admin_rate_limit, settings.admin_rate_burst,
            settings.admin_launch_rate_limit, settings.admin_launch_rate_burst) == (
        2.5, 10, 0.0, 3)
    for name, bad in (("FLYRAY_ADMIN_RATE_LIMIT", "-1"), ("FLYRAY_ADMIN_RATE_LIMIT", "fast"),
                      ("FLYRAY_ADMIN_RATE_LIMIT", "inf"), ("FLYRAY_ADMIN_RATE_BURST", "0"),
                      ("FLYRAY_ADMIN_LAUNCH_RATE_BURST", "1.5")):
        with pytest.raises(ConfigError, match=name):
            load_settings({"FLYRAY_HOME": str(tmp_path), name: bad})


@pytest.mark.timeout(60)
def test_a_cli_command_waits_out_a_429_instead_of_failing(tmp_path: Path) -> None:
    with start_admin(tmp_path, admin_rate_limit=1.0, admin_rate_burst=1) as server:
        runner = CliRunner()
        assert runner.invoke(cli, ["get", "projects"], env=server.env).exit_code == 0
        began = time.monotonic()
        listed = runner.invoke(cli, ["get", "projects"], env=server.env)
        assert listed.exit_code == 0, listed.output
        assert "flytesnacks" in listed.output
        assert time.monotonic() - began >= 0.9  # it waited the second Retry-After asked


@pytest.mark.timeout(60)
def test_the_client_gives_up_when_the_wait_is_long(tmp_path: Path) -> None:
    with start_admin(tmp_path, admin_rate_limit=0.001, admin_rate_burst=1) as server:
        client = AdminClient(server.endpoint)
        client.get("/api/v1/projects")
        began = time.monotonic()
        with pytest.raises(AdminRequestError) as refused:
            client.get("/api/v1/projects")
        assert time.monotonic() - began < 5
        assert refused.value.status == 429 and refused.value.kind == "RESOURCE_EXHAUSTED"
        assert "admin_rate_limit" in str(refused.value)
