"""Notifications of launch plans, delivered by the admin's notifier to real receivers: a
local SMTP server (aiosmtpd) and a local HTTP server standing in for Slack, PagerDuty and
webhooks. Recorded in the transaction that ends an execution, sent at least once, retried
with backoff, given up after a limit, listed per execution; never in the run's way."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from engine.config import Settings
from engine.core.notification import Email, Notification, PagerDuty, Slack, Webhook
from engine.core.notification import WorkflowExecutionPhase as P
from engine.dag.run.state import ExecutionPhase
from engine.dag.spec import LaunchPlanSpec, launch_plan_id
from serve.app import create_app
from serve.control.launcher import RayLauncher
from serve.control.notifier import DeliveryPolicy, Notifier
from serve.store import AdminStore
from serve.store.execution_records import ErrorInfo, ExecutionId, ExecutionRequest, TargetKind
from tests.fixtures import remote_wfs
from tests.serve.conftest import FAST, MakeClient
from tests.serve.remote import launch, wait_for, wait_until
from tests.serve.specs import DOMAIN, PROJECT, register_workflow

# Retries a few milliseconds apart, three attempts at most.
QUICK = DeliveryPolicy(poll_s=0.05, max_attempts=3, first_retry_s=0.02, factor=2.0,
                       timeout_s=5.0)
ROUTING_KEY = "R0UT1NGKEY"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST (path and JSON body) and
    answers with the statuses scripted for its path, then 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.script: dict[str, list[int]] = {}
        lock, receiver = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    receiver.posts.append((self.path, body))
                    statuses = receiver.script.get(self.path) or [200]
                    status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try again later")

            def log_message(self, *_: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def bodies(self, path: str) -> list[Any]:
        return [body for p, body in self.posts if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        with socket.socket() as probe:  # aiosmtpd needs a port of its own choosing
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    server = Mailbox()
    yield server
    server.close()


@pytest.fixture
def channels(receiver: Receiver, mailbox: Mailbox) -> dict[str, Any]:
    """Settings that point every channel at the local receivers."""
    return {"smtp_url": f"smtp://127.0.0.1:{mailbox.port}", "mail_from": "flyray@test.example",
            "slack_webhook_url": receiver.url("/slack"),
            "pagerduty_events_url": receiver.url("/pagerduty"),
            "pagerduty_routing_key": ROUTING_KEY}


def register_plan(client: TestClient, name: str, notifications: list[Notification]) -> str:
    """Register ``square_plus_one`` and a launch plan ``name`` of it with these
    notifications."""
    workflow_id = register_workflow(client, remote_wfs.square_plus_one)
    spec = remote_wfs.square_plus_one.compile().spec
    plan = LaunchPlanSpec(launch_plan_id(spec.id, name), spec.id,
                          notifications=tuple(n.to_spec() for n in notifications)).to_dict()
    response = client.post("/api/v1/launch_plans", json={"id": plan["id"], "spec": plan})
    assert response.status_code == 201, response.text
    return str(workflow_id["version"])


def notifications(client: TestClient, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}/{name}/notifications")
    assert response.status_code == 200, response.text
    return list(response.json()["notifications"])


def settled(client: TestClient, name: str, count: int) -> list[dict[str, Any]]:
    """The execution's ``count`` notifications once none is PENDING."""
    wait_until(lambda: len(listed := notifications(client, name)) == count and all(
        n["status"] != "PENDING" for n in listed), what=f"the notifications of {name}")
    return notifications(client, name)


def end_by_driver(store: AdminStore, name: str, plan: str, phase: ExecutionPhase,
                  error: ErrorInfo | None = None) -> ExecutionId:
    """Create an execution of launch plan ``plan`` and end it as its driver would."""
    execution, _, _ = store.create_execution(ExecutionRequest(
        PROJECT, DOMAIN, name, TargetKind.LAUNCH_PLAN, plan, None, {"x": 1}))
    claim = store.claim_driver(execution.id, 1)
    assert claim is not None
    store.finish_execution(execution.id, claim.incarnation, phase, error)
    return execution.id


def send_until_settled(notifier: Notifier, store: AdminStore, ident: ExecutionId) -> None:
    """Run the notifier's passes (as its thread would) until nothing is PENDING."""
    deadline = time.monotonic() + 30
    while any(d.status.value == "PENDING" for d in store.list_notifications(ident)):
        assert time.monotonic() < deadline, store.list_notifications(ident)
        notifier.send_due()
        time.sleep(0.01)


# --- the outbox and the notifier, over SQLite and PostgreSQL ----------------------------


def test_an_ended_execution_records_its_notifications_and_they_are_sent_once(
        store: AdminStore, make_client: MakeClient, channels: dict[str, Any],
        receiver: Receiver, mailbox: Mailbox, tmp_path: Path) -> None:
    client = make_client(**channels)
    version = register_plan(client, "nightly", [
        Email([P.FAILED], ["ops@example.com", "lead@example.com"]),
        Slack([P.SUCCEEDED], ["chan@team.slack.com"]),  # not this phase: not recorded
        Webhook([P.SUCCEEDED, P.FAILED], receiver.url("/hook")),
    ])
    ident = end_by_driver(store, "run-1", "nightly", ExecutionPhase.FAILED, ErrorInfo(
        "USER", "ValueError: x must not be negative, got -1\nTraceback (most recent ...)"))

    pending = notifications(client, "run-1")  # recorded as the execution ended
    assert [(n["position"], n["kind"], n["status"], n["attempts"]) for n in pending] == [
        (0, "email", "PENDING", 0), (2, "webhook", "PENDING", 0)]

    send_until_settled(Notifier(store, Settings(home=tmp_path, **channels), QUICK), store,
                       ident)
    sent = notifications(client, "run-1")
    assert [(n["status"], n["attempts"], n["last_error"]) for n in sent] == [
        ("SENT", 1, None), ("SENT", 1, None)]
    assert all(n["sent_at"] and n["phase"] == "FAILED" for n in sent)

    [(recipients, message)] = mailbox.messages
    assert recipients == ["ops@example.com", "lead@example.com"]
    assert message["From"] == "flyray@test.example"
    assert message["Subject"] == (f"Flyray execution {PROJECT}/{DOMAIN}/run-1 FAILED "
                                  "(launch plan nightly)")
    body = message.get_body().get_content().splitlines()  # type: ignore[union-attr]
    link = f"/console/projects/{PROJECT}/domains/{DOMAIN}/executions/run-1"
    assert body[:3] == [f"Execution: {PROJECT}/{DOMAIN}/run-1",
                        f"Launch plan: nightly (version {version})", "Phase: FAILED"]
    assert body[3].startswith("Duration: ")
    assert body[4:] == ["Error: USER: ValueError: x must not be negative, got -1",
                        f"Console: http://127.0.0.1:30080{link}"]

    [hook] = receiver.bodies("/hook")
    assert hook["execution"] == {"project": PROJECT, "domain": DOMAIN, "name": "run-1"}
    assert hook["phase"] == "FAILED" and hook["launch_plan"]["name"] == "nightly"
    assert hook["error"]["kind"] == "USER" and hook["console_url"].endswith(link)
    assert receiver.bodies("/slack") == []


def test_failed_attempts_are_retried_with_backoff_until_sent_or_given_up(
        store: AdminStore, make_client: MakeClient, channels: dict[str, Any],
        receiver: Receiver, tmp_path: Path) -> None:
    receiver.script = {"/flaky": [503, 503, 200], "/down": [500], "/gone": [404]}
    client = make_client()
    register_plan(client, "alerts", [
        Webhook([P.ABORTED], receiver.url("/flaky")),
        Webhook([P.ABORTED], receiver.url("/down")),
        Webhook([P.ABORTED], receiver.url("/gone")),
        PagerDuty([P.ABORTED], ["svc@acme.pagerduty.com"]),
        Email([P.ABORTED], ["ops@example.com"]),
    ])
    ident = end_by_driver(store, "run-2", "alerts", ExecutionPhase.ABORTED)
    # No SMTP server in these settings; PagerDuty's events go to the local receiver.
    settings = Settings(home=tmp_path, **{**channels, "smtp_url": None})
    send_until_settled(Notifier(store, settings, QUICK), store, ident)

    flaky, down, gone, pager, mail = notifications(client, "run-2")
    assert (flaky["status"], flaky["attempts"], flaky["last_error"]) == ("SENT", 3, None)
    assert len(receiver.bodies("/flaky")) == 3
    assert (down["status"], down["attempts"]) == ("FAILED", QUICK.max_attempts)
    assert down["last_error"].startswith(f"http://127.0.0.1:{receiver.server.server_port} "
                                         "answered HTTP 500")
    assert (gone["status"], gone["attempts"]) == ("FAILED", 1)  # a 4xx is not retried
    assert (mail["status"], mail["attempts"]) == ("FAILED", 1)
    assert "no SMTP server is configured" in mail["last_error"]
    assert "FLYRAY_SMTP_URL" in mail["last_error"]

    assert pager["status"] == "SENT"
    [event] = receiver.bodies("/pagerduty")
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == f"flyray/{PROJECT}/{DOMAIN}/run-2/ABORTED"
    assert event["payload"]["severity"] == "warning"
    assert event["payload"]["custom_details"]["recipients_email"] == [
        "svc@acme.pagerduty.com"]
    assert store.get_execution(ident).phase is ExecutionPhase.ABORTED


def test_a_claim_whose_sender_died_is_claimed_again_and_its_late_record_ignored(
        store: AdminStore, make_client: MakeClient, receiver: Receiver) -> None:
    register_plan(make_client(), "once", [Webhook([P.SUCCEEDED], receiver.url("/hook"))])
    ident = end_by_driver(store, "run-3", "once", ExecutionPhase.SUCCEEDED)
    [first] = store.claim_notifications(5, 0.0)  # its lease passes at once
    assert store.notifications_due()
    [second] = store.claim_notifications(5, 60.0)
    assert (second.key, second.attempts) == (first.key, 2)
    assert store.claim_notifications(5, 60.0) == []  # leased
    store.record_attempt(first.key, 1, None, None)  # the first sender, late: ignored
    [listed] = store.list_notifications(ident)
    assert (listed.status.value, listed.attempts) == ("PENDING", 2)
    store.record_attempt(second.key, 2, None, None)
    [listed] = store.list_notifications(ident)
    assert listed.status.value == "SENT" and listed.sent_at is not None


def test_notifications_of_a_missing_execution_are_not_found(client: TestClient) -> None:
    response = client.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}/nope/notifications")
    assert response.status_code == 404, response.text
    assert "execution flytesnacks/development/nope does not exist" in response.text


# --- end to end: executions on Ray -------------------------------------------------------


@pytest.fixture
def notified(tmp_path: Path, launcher: RayLauncher,
             channels: dict[str, Any]) -> Iterator[TestClient]:
    """The admin API running executions on Ray (SQLite), its notifier sending to the
    local receivers."""
    admin = AdminStore(f"sqlite:///{tmp_path}/admin.db")
    app = create_app(Settings(home=tmp_path, **channels), store=admin, launcher=launcher,
                     liveness=FAST, delivery=QUICK)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        admin.close()


def test_executions_that_succeed_and_fail_send_their_notifications(
        notified: TestClient, receiver: Receiver, mailbox: Mailbox) -> None:
    receiver.script = {"/down": [500]}
    version = register_plan(notified, "watched", [
        Email([P.SUCCEEDED, P.FAILED], ["ops@example.com"]),
        Slack([P.FAILED], ["chan@team.slack.com"]),
        PagerDuty([P.FAILED], ["svc@acme.pagerduty.com"]),
        Webhook([P.SUCCEEDED], receiver.url("/down")),  # never accepts
    ])
    plan = {"launch_plan": {"name": "watched", "version": version}}
    good = launch(notified, name="good", inputs={"x": 3}, **plan)["id"]["name"]
    bad = launch(notified, name="bad", inputs={"x": -1}, **plan)["id"]["name"]
    assert wait_for(notified, good)["closure"]["phase"] == "SUCCEEDED"
    failed = wait_for(notified, bad, ("FAILED",))["closure"]

    email_ok, hook = settled(notified, good, 2)
    assert (email_ok["status"], hook["status"], hook["attempts"]) == (
        "SENT", "FAILED", QUICK.max_attempts)  # given up; the run was not affected
    assert [n["status"] for n in settled(notified, bad, 3)] == ["SENT"] * 3

    subjects = sorted(str(m["Subject"]) for _, m in mailbox.messages)
    assert subjects == [f"Flyray execution {PROJECT}/{DOMAIN}/bad FAILED (launch plan "
                        "watched)", f"Flyray execution {PROJECT}/{DOMAIN}/good SUCCEEDED "
                        "(launch plan watched)"]
    [slack] = receiver.bodies("/slack")
    first_line = failed["error"]["message"].splitlines()[0]
    assert f"Error: USER: {first_line}" in slack["text"] and "bad FAILED" in slack["text"]
    [event] = receiver.bodies("/pagerduty")
    assert event["payload"]["custom_details"]["execution"]["name"] == "bad"
