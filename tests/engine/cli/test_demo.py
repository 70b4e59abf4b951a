"""End to end, as a user: ``flyray demo start``, register a package, launch over HTTP, run
remotely and wait, list executions, ``flyray demo stop``. Everything runs in processes of
its own against a Ray head the demo starts; it runs after the shared-cluster tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ray

from engine.admin_client import AdminClient
from engine.cli import sandbox
from engine.config import load_settings
from tests.engine.cli.test_cluster import listening_sockets, loopback
from tests.fixtures.remote_wfs import runs
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[3]
FLYRAY = str(Path(sys.executable).parent / "flyray")
PREFIX = "tests.fixtures.remote_pkg"
PROJECT, DOMAIN = "flytesnacks", "development"

pytestmark = pytest.mark.fresh_cluster


@dataclass(frozen=True)
class Demo:
    home: Path
    endpoint: str
    env: dict[str, str]

    def flyray(self, *args: str, timeout: float = 150,
               **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FLYRAY, *args], cwd=ROOT, env={**self.env, **env},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Status and body of one admin API call; an error status raises
        AdminRequestError with the server's message."""
        reply = AdminClient(self.endpoint).request(method, path, body)
        return reply.status, reply.body

    def wait(self, name: str, timeout: float = 120) -> dict[str, Any]:
        """The execution once it has ended."""
        deadline = time.monotonic() + timeout
        while True:
            status, execution = self.call("GET", f"/api/v1/executions/{PROJECT}/{DOMAIN}/"
                                                 f"{name}")
            assert status == 200, execution
            if execution["closure"]["phase"] not in ("QUEUED", "RUNNING"):
                return execution
            assert time.monotonic() < deadline, f"execution {name} did not end: {execution}"
            time.sleep(0.5)


@pytest.fixture
def demo() -> Iterator[Demo]:
    """A private Flyray home and admin port; the demo is stopped (or its processes ended)
    and the home deleted afterwards, whatever happened."""
    if ray.is_initialized():
        ray.shutdown()  # the shared cluster's CPUs are the demo's now
    home = Path(tempfile.mkdtemp(prefix="frd", dir="/tmp"))  # short: Ray's socket paths
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "FLYRAY_RAY_ADDRESS", "FLYRAY_ADMIN_TOKEN")}
    env.update(FLYRAY_HOME=str(home), RAY_AUTH_MODE="disabled",
               FLYRAY_ADMIN_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    running = Demo(home, env["FLYRAY_ADMIN_ENDPOINT"], env)
    try:
        yield running
    finally:
        running.flyray("demo", "stop", timeout=60)
        left = sandbox.DemoState.load(sandbox.state_path(load_settings(env)))
        if left is not None:  # stop failed: end the head's processes by their session
            sandbox.stop_head(left)
        shutil.rmtree(home, ignore_errors=True)


def rows(text: str) -> dict[str, list[str]]:
    """First cell -> the other cells, for every row of the tables in ``text``."""
    found = {}
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│ ").split("│")]
            found[cells[0]] = cells[1:]
    return found


def found(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in ``text``, which must match."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return match.group(1)


def start_and_check(demo: Demo) -> None:
    started = demo.flyray("demo", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    table = rows(started.stdout)
    assert {k: v[0] for k, v in table.items() if k not in ("component", "executors")} == {
        "Ray head": "running", "admin API": "ready", "database": "ready",
        "blob store": "ready"}, started.stdout
    assert re.match(r"\d+ running \(\d+ warm\)", table["executors"][0]), started.stdout
    assert table["admin API"][1] == demo.endpoint
    assert table["database"][1] == f"sqlite:///{demo.home}/admin.db"
    assert table["blob store"][1] == f"file://{demo.home}/blobs"
    for url in (f"{demo.endpoint}/api/v1", f"{demo.endpoint}/docs",
                f"{demo.endpoint}/console"):
        assert url in started.stdout
    with urllib.request.urlopen(f"{demo.endpoint}/console", timeout=30) as page:
        assert "Flyray console" in page.read().decode()

    assert_private(demo)

    again = demo.flyray("demo", "start")
    assert again.returncode == 0 and "already running" in again.stdout, again.stdout
    status = demo.flyray("demo", "status")
    assert status.returncode == 0 and rows(status.stdout)["admin API"][0] == "ready"


def assert_private(demo: Demo) -> None:
    """Every process of the demo listens on 127.0.0.1 only; but for the inter-deployment
    gRPC server of each Serve replica, which Ray Serve binds to every interface (not
    configurable) and which serves only that replica's own deployment."""
    head = sandbox.current(load_settings(demo.env))
    assert head is not None
    seen = set()
    for pid in sandbox.session_members(head.pid):
        sockets = listening_sockets([pid])
        seen |= sockets
        exposed = sorted(s for s in sockets if not loopback(s[0]))
        if exposed:
            name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            assert name.startswith("ray::ServeReplica") and len(exposed) == 1, (name, exposed)
    ports = {port for _, port in seen}
    assert {int(head.gcs_address.rsplit(":", 1)[1]), int(demo.endpoint.rsplit(":", 1)[1])} \
        <= ports, seen


def launch_over_http(demo: Demo, version: str) -> str:
    """A workflow's default launch plan and a task, launched with the API; the name of
    the workflow's execution."""
    status_code, launched = demo.call("POST", "/api/v1/executions", {
        "project": PROJECT, "domain": DOMAIN, "inputs": {"n": 5},
        "launch_plan": {"name": f"{PREFIX}.workflows.pipeline", "version": version}})
    assert status_code == 201, launched
    name = str(launched["id"]["name"])
    finished = demo.wait(name)
    assert finished["closure"]["phase"] == "SUCCEEDED", finished["closure"]["error"]
    _, data = demo.call("GET", f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/{name}")
    assert data["outputs"] == {"o0": 15}  # 2 * 5 + 5

    status_code, located = demo.call("POST", "/api/v1/executions", {
        "project": PROJECT, "domain": DOMAIN,
        "task": {"name": f"{PREFIX}.tasks.helper_file", "version": version}})
    assert status_code == 201, located
    assert demo.wait(located["id"]["name"])["closure"]["phase"] == "SUCCEEDED"
    _, data = demo.call("GET", f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/"
                               f"{located['id']['name']}")
    # The workers imported the package from the code bundle Ray unpacked, not from here.
    helper = Path(data["outputs"]["o0"])
    assert "runtime_resources" in helper.parts and helper.is_relative_to(demo.home), helper
    return name


def run_remote(demo: Demo) -> None:
    ran = demo.flyray("run", "--remote", "--wait", "tests/fixtures/remote_pkg/workflows.py",
                      "pipeline", "--n", "7")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    url, result = ran.stdout.splitlines()[-2:]
    assert re.fullmatch(rf"execution (\S+): {re.escape(demo.endpoint)}/console/projects/"
                        rf"{PROJECT}/domains/{DOMAIN}/executions/\1", url), url
    assert result == "21"

    failed = demo.flyray("run", "--remote", "--wait", "tests/fixtures/remote_pkg/workflows.py",
                         "failing", "--n", "1")
    assert failed.returncode == 1
    assert "FAILED with a USER error" in failed.stderr, failed.stderr
    assert "ValueError: n=1 is not welcome here" in failed.stderr
    # The console's page of the failed execution leads with its error, and what the task
    # wrote on its way out is in its log.
    failed_name = found(r"execution (\S+): ", failed.stdout)
    page_url = (f"{demo.endpoint}/console/projects/{PROJECT}/domains/{DOMAIN}/executions/"
                f"{failed_name}")
    with urllib.request.urlopen(page_url, timeout=30) as page:
        html = page.read().decode()
    assert 'data-testid="error-banner"' in html and "not welcome here" in html, html
    logs = demo.flyray("logs", failed_name)
    assert logs.returncode == 0, logs.stdout + logs.stderr
    assert "ERR ValueError: n=1 is not welcome here" in logs.stdout, logs.stdout


def list_and_relaunch(demo: Demo, name: str, version: str) -> None:
    listed = demo.flyray("get", "executions")
    assert listed.returncode == 0, listed.stderr
    executions = rows(listed.stdout)
    assert executions[name][:3] == [f"{PREFIX}.workflows.pipeline", version, "SUCCEEDED"]
    assert sum(1 for v in executions.values() if v[2] == "FAILED") == 1
    shown = demo.flyray("get", "executions", name)
    assert shown.returncode == 0 and {"n0", "n1"} <= set(rows(shown.stdout)), shown.stdout

    relaunched = demo.flyray("execution", "relaunch", name)
    assert relaunched.returncode == 0, relaunched.stderr
    again = found(r"relaunched as execution (\S+) ", relaunched.stdout)
    assert demo.wait(again)["closure"]["phase"] == "SUCCEEDED"


# A user's script in a scratch directory: a quick counted node, then a long nap.
RESUMABLE = """
import time, uuid
from pathlib import Path
from engine import task, workflow

def mark(marker_dir: str, label: str) -> None:
    Path(marker_dir).mkdir(parents=True, exist_ok=True)
    (Path(marker_dir) / f"{label}-{uuid.uuid4().hex[:8]}").touch()

@task
def first(marker_dir: str) -> int:
    mark(marker_dir, "a")
    return 1

@task
def nap(x: int, seconds: float, marker_dir: str) -> int:
    mark(marker_dir, "started")
    time.sleep(seconds)
    mark(marker_dir, "woke")
    return x + 1

@workflow
def resumable(marker_dir: str, seconds: float) -> int:
    return nap(x=first(marker_dir=marker_dir), seconds=seconds, marker_dir=marker_dir)
"""


def stop_mid_run_and_resume(demo: Demo) -> None:
    """``flyray demo stop`` while an execution runs hands it back; after ``flyray demo
    start`` it resumes from its succeeded node and succeeds: the stop cost it nothing."""
    markers = demo.home / "markers"
    script = demo.home / "scratch" / "resumable.py"
    script.parent.mkdir()
    script.write_text(RESUMABLE)
    ran = demo.flyray("run", "--remote", str(script), "resumable",
                      "--marker_dir", str(markers), "--seconds", "20")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    name = found(r"execution (\S+):", ran.stdout)
    deadline = time.monotonic() + 120
    nodes = f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}"

    def first_done() -> bool:
        listed = demo.call("GET", nodes)[1]["node_executions"]
        return any(n["id"]["node_id"] == "n0" and n["phase"] == "SUCCEEDED" for n in listed)

    while runs(markers, "started") == 0 or not first_done():
        assert time.monotonic() < deadline, "the nap did not start"
        time.sleep(0.5)
    stopped = demo.flyray("demo", "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "1 running execution(s) resume after `flyray demo start`" in stopped.stdout
    restarted = demo.flyray("demo", "start", "--dashboard")  # with Ray's dashboard, this time
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    head = sandbox.current(load_settings(demo.env))
    assert head is not None and head.dashboard_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{head.dashboard_url}/api/version", timeout=30) as reply:
        assert reply.status == 200
    finished = demo.wait(name, timeout=180)
    assert finished["closure"]["phase"] == "SUCCEEDED", finished["closure"]
    assert finished["closure"]["driver_restarts"] == 0
    # The first node ran once; the nap, stopped with the cluster, ran again to its end.
    assert (runs(markers, "a"), runs(markers, "started"), runs(markers, "woke")) == (1, 2, 1)


def stop_and_check(demo: Demo) -> None:
    head = sandbox.current(load_settings(demo.env))
    assert head is not None and sandbox.session_members(head.pid)
    stopped = demo.flyray("demo", "stop")
    assert stopped.returncode == 0 and "Flyray demo stopped" in stopped.stdout, stopped.stdout
    assert demo.flyray("demo", "stop").stdout == "Flyray demo is not running.\n"
    after = demo.flyray("demo", "status")
    assert after.returncode == 1 and rows(after.stdout)["Ray head"][0] == "stopped"
    assert sandbox.session_members(head.pid) == []  # every Ray process of the demo ended
    assert (demo.home / "admin.db").is_file()  # the data stays
    unreachable = demo.flyray("get", "executions")
    assert unreachable.returncode == 1 and "flyray demo start" in unreachable.stderr


@pytest.mark.timeout(600)
def test_demo_register_launch_run_and_stop(demo: Demo) -> None:
    start_and_check(demo)
    registered = demo.flyray("register", "tests/fixtures/remote_pkg")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    version = found(r"at version (\S+)", registered.stdout)
    name = launch_over_http(demo, version)
    run_remote(demo)
    list_and_relaunch(demo, name, version)
    stop_mid_run_and_resume(demo)
    stop_and_check(demo)


@pytest.mark.timeout(180)
def test_a_demo_whose_head_does_not_come_up_fails_loudly(demo: Demo) -> None:
    # Ray refuses an object store this small: the head exits while starting.
    failed = demo.flyray("demo", "start", FLYRAY_OBJECT_STORE_MEMORY="1Ki")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "the Ray head exited with status 1; the end of its log" in failed.stderr
    assert "the minimum allowed is" in failed.stderr  # Ray's own words, from the log
    assert sandbox.DemoState.load(sandbox.state_path(load_settings(demo.env))) is None
