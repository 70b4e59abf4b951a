"""``flyray logs``: a remote execution's logs through a real admin API over HTTP (whole,
a tail, every node, an earlier attempt, --follow of a running attempt), a local run's
logs read from this machine's blob store, and end to end: lines that tasks of a real
remote execution on the shared Ray cluster printed, through the API and the CLI."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.admin_client import AdminClient
from engine.catalog.blob import BlobStore, StorageConfig
from engine.cli.main import cli
from engine.config import Settings
from engine.dag.run.state import ExecutionPhase, NodePhase
from engine.dag.spec import Identifier
from engine.logs.store import attempt_log_uri
from engine.logs.writer import LogWriter
from serve.control.launcher import RayLauncher
from serve.store import AdminStore
from serve.store.execution_records import AttemptEvent, NodeAttempt
from tests.console.seed import Seeded, pipeline, register, seed_running
from tests.engine.cli.conftest import AdminServer, Flyray, start_admin
from tests.fixtures import log_wfs
from tests.serve.conftest import FAST, launcher  # noqa: F401  (the Ray launcher fixture)

pytestmark = pytest.mark.timeout(90)
OUT = "2026-12-04T22:45:14.123Z OUT "


@dataclass(frozen=True)
class Logged:
    server: AdminServer
    blobs: BlobStore
    store: AdminStore
    seeded: Seeded

    def write(self, node_id: str, attempt: int, text: str, end: bool = True) -> LogWriter:
        """A log of ``attempt`` of ``node_id``, recorded as that attempt's (running
        unless ``end``)."""
        uri = attempt_log_uri(self.blobs, "logged", node_id, attempt)
        writer = LogWriter(self.blobs, uri)
        writer.append(text.encode())
        writer.close() if end else writer.flush()
        t = self.seeded.started_at + attempt
        self.store.record_events(self.seeded.id, self.seeded.incarnation, [
            AttemptEvent(node_id, NodeAttempt(
                attempt, t, t + 1 if end else None, NodePhase.SUCCEEDED if end else None,
                None, None, None, {}, log_uri=uri))])
        return writer


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Logged]:
    """An admin API whose execution 'logged' runs n0 and n1 (their first attempts)."""
    with start_admin(tmp_path) as server:
        settings = Settings(home=tmp_path / "server")
        store = AdminStore(settings.admin_db_url_or_default)
        try:
            seeded = seed_running(store, register(store, pipeline), "logged",
                                  nodes={"n0": NodePhase.RUNNING, "n1": NodePhase.RUNNING})
            yield Logged(server, BlobStore(StorageConfig.from_settings(settings)), store,
                         seeded)
        finally:
            store.close()


@pytest.fixture
def admin_server(logged: Logged) -> AdminServer:
    return logged.server  # what the ``flyray`` fixture runs against


def test_logs_of_a_node_a_tail_and_every_node(logged: Logged, flyray: Flyray) -> None:
    logged.write("n0", 1, f"{OUT}loaded 3\n")
    logged.write("n1", 1, "".join(f"{OUT}step {i}\n" for i in range(5)))

    result = flyray("logs", "logged", "n1")
    assert result.exit_code == 0, result.output
    assert result.output == "".join(f"{OUT}step {i}\n" for i in range(5))
    assert flyray("logs", "logged", "n1", "--tail", "1").output == f"{OUT}step 4\n"
    every = flyray("logs", "logged").output
    assert every.startswith(f"==> n0 (attempt 1) <==\n{OUT}loaded 3\n==> n1 (attempt 1) <==")


def test_an_earlier_attempt_and_a_missing_one(logged: Logged, flyray: Flyray) -> None:
    logged.write("n1", 1, f"{OUT}first\n")
    logged.write("n1", 2, f"{OUT}second\n")
    assert flyray("logs", "logged", "n1").output == f"{OUT}second\n"
    assert flyray("logs", "logged", "n1", "--attempt", "1").output == f"{OUT}first\n"
    missing = flyray("logs", "logged", "n1", "--attempt", "9")
    assert missing.exit_code == 1 and "its attempts: 1, 2" in missing.output


def test_follow_prints_a_running_attempts_lines_until_it_ends(logged: Logged,
                                                              flyray: Flyray) -> None:
    writer = logged.write("n1", 1, f"{OUT}started\n", end=False)

    def finish() -> None:
        time.sleep(1.5)
        writer.append(f"{OUT}done\n".encode())
        writer.close()

    thread = threading.Thread(target=finish)
    thread.start()
    result = flyray("logs", "logged", "n1", "--follow")
    thread.join()
    assert result.exit_code == 0, result.output
    assert result.output == f"{OUT}started\n{OUT}done\n"


def test_follow_without_a_node_prints_every_nodes_lines_until_the_execution_ends(
        logged: Logged, flyray: Flyray) -> None:
    logged.write("n0", 1, f"{OUT}loaded\n")
    writer = logged.write("n1", 1, f"{OUT}cleaning\n", end=False)

    def finish() -> None:
        time.sleep(1.5)
        writer.append(f"{OUT}cleaned\n".encode())
        writer.close()
        logged.store.finish_execution(logged.seeded.id, logged.seeded.incarnation,
                                      ExecutionPhase.SUCCEEDED)

    thread = threading.Thread(target=finish)
    thread.start()
    result = flyray("logs", "logged", "--follow")
    thread.join()
    assert result.exit_code == 0, result.output
    assert sorted(result.output.splitlines()) == sorted([
        f"[n0] {OUT}loaded", f"[n1] {OUT}cleaning", f"[n1] {OUT}cleaned"])


def test_a_local_runs_logs_come_from_this_machines_blob_store(logged: Logged,
                                                              flyray: Flyray) -> None:
    server = logged.server
    blobs = BlobStore(StorageConfig.from_settings(Settings(
        home=server.home, blob_root=server.env["FLYRAY_BLOB_ROOT"])))
    writer = LogWriter(blobs, attempt_log_uri(blobs, "local-run", "n0", 1))
    writer.append(f"{OUT}hello from a local run\n".encode())
    writer.close()
    result = flyray("logs", "local-run")
    assert result.exit_code == 0, result.output
    assert f"{OUT}hello from a local run" in result.output
    nothing = flyray("logs", "no-such-run")
    assert nothing.exit_code == 1 and "no-such-run" in nothing.output


@pytest.mark.timeout(240)
def test_a_remote_executions_printed_lines_reach_the_api_and_flyray_logs(
        tmp_path: Path, launcher: RayLauncher) -> None:  # noqa: F811
    with start_admin(tmp_path, launcher=launcher, liveness=FAST) as server:
        store = AdminStore(Settings(home=tmp_path / "server").admin_db_url_or_default)
        try:
            talk, fails = register(store, log_wfs.talk), register(store, log_wfs.fails)
        finally:
            store.close()
        admin = AdminClient(server.endpoint)
        ran = launch_and_wait(admin, talk, {"n": 3}, "SUCCEEDED")
        failed = launch_and_wait(admin, fails, {}, "FAILED")

        log = admin.get(f"/api/v1/logs/flytesnacks/development/{ran}/n0")
        assert "OUT printed 3" in log["text"] and log["complete"], log
        shown = CliRunner().invoke(cli, ["logs", ran, "n0"], env=server.env)
        assert shown.exit_code == 0 and "OUT printed 3\n" in shown.output, shown.output

        node = admin.get(f"/api/v1/node_executions/flytesnacks/development/{failed}/n0")
        assert node["error"]["kind"] == "USER"
        failing = admin.get(node["error"]["log_url"])
        assert "OUT about to fail" in failing["text"], failing


def launch_and_wait(admin: AdminClient, workflow: Identifier, inputs: dict[str, object],
                    phase: str) -> str:
    """Launch ``workflow`` and wait until it ends ``phase``; returns its name."""
    reply = admin.post("/api/v1/executions", {
        "project": workflow.project, "domain": workflow.domain, "inputs": inputs,
        "workflow": {"name": workflow.name, "version": workflow.version}}).body
    name = str(reply["id"]["name"])
    deadline = time.monotonic() + 120
    while (now := admin.get(f"/api/v1/executions/flytesnacks/development/{name}")
           )["closure"]["phase"] in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    assert now["closure"]["phase"] == phase, now
    return name


@pytest.mark.usefixtures("ray_cluster")
def test_a_local_run_names_its_logs_and_flyray_logs_reads_them() -> None:
    fixture = str(Path(log_wfs.__file__))
    ran = CliRunner().invoke(cli, ["run", fixture, "talk", "--n", "3"])
    assert ran.exit_code == 0, ran.output
    name = ran.stderr.rsplit("logs: flyray logs ", 1)[1].split()[0]
    shown = CliRunner().invoke(cli, ["logs", name, "n0"])
    assert shown.exit_code == 0, shown.output
    assert "OUT printed 3" in shown.output and "FLYRAY attempt ended: SUCCEEDED" in shown.output
