"""The local cluster of a Flyray home, as a user meets it: ``flyray cluster start``,
``status`` and ``stop``, and the warm runtime that a run starts. Everything runs in
processes of its own, in a private Flyray home, next to another Ray head that must stay
untouched; the end-to-end tests run after the shared-cluster tests."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray._raylet import GcsClient

from engine.config import load_settings, settings_variables
from engine.dag.run import local_cluster, ray_head
from engine.dag.run.local_cluster import ClusterState
from engine.errors import ConfigError
from tests.engine.cli.conftest import Home
from tests.servers import free_port

FIXTURE = "tests/fixtures/cli_wfs.py"


@pytest.fixture
def other_head() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Another user's Ray head: plain ``ray start --head`` on a free port, its own temp
    dir; yields it and its address. Stopped by its process group afterwards."""
    temp = tempfile.mkdtemp(prefix="frh", dir="/tmp")
    address = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         "--port", address.rsplit(":", 1)[1], "--num-cpus", "1", "--include-dashboard",
         "false", "--temp-dir", temp, "--disable-usage-stats",
         "--ray-client-server-port", str(free_port()),
         "--dashboard-agent-listen-port", str(free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not Path(temp, "ray_current_cluster").is_file():
            assert head.poll() is None and time.monotonic() < deadline, "no other head"
            time.sleep(0.5)
        yield head, address
    finally:
        ray_head.stop_session(head.pid)
        head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


def user_jobs(address: str) -> list[str]:
    """The entrypoints of the drivers that ever connected to the cluster at ``address``,
    Ray's internal ones apart."""
    jobs = GcsClient(address=address).get_all_job_info(timeout=10).values()
    return [job.entrypoint for job in jobs
            if not job.config.ray_namespace.startswith("_ray_internal")]


def listening_sockets(pids: list[int]) -> set[tuple[str, int]]:
    """(address in /proc/net hex, port) of every TCP socket the processes listen on."""
    table: dict[str, tuple[str, int]] = {}
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                address, port = fields[1].split(":")
                table[fields[9]] = (address, int(port, 16))
    found = set()
    for pid in pids:
        with_fds = Path(f"/proc/{pid}/fd")
        try:
            links = [os.readlink(fd) for fd in with_fds.iterdir()]
        except OSError:
            continue  # ended meanwhile
        for link in links:
            inode = link[len("socket:["):-1] if link.startswith("socket:[") else None
            if inode in table:
                found.add(table[inode])
    return found


def loopback(hex_address: str) -> bool:
    """127.0.0.0/8 (/proc/net/tcp writes it little-endian), ::1, or ::ffff:127.x."""
    if len(hex_address) == 8:
        return hex_address.endswith("7F")
    return (hex_address == "00000000000000000000000001000000"
            or (hex_address[:24] == "0000000000000000FFFF0000" and hex_address.endswith("7F")))


def assert_private(state: ClusterState) -> None:
    """Every process of the cluster listens on the loopback interface only."""
    sockets = listening_sockets(ray_head.session_members(state.pid))
    assert int(state.gcs_address.rsplit(":", 1)[1]) in {port for _, port in sockets}, sockets
    exposed = sorted(s for s in sockets if not loopback(s[0]))
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"


# A user's script: which project the task's worker reads from its settings.
PROJECT_TASK = """
from engine import task
from engine.config import load_settings

@task
def project() -> str:
    return load_settings().project
"""


@pytest.mark.fresh_cluster
@pytest.mark.timeout(420)
def test_cluster_start_is_private_reused_and_stopped_alone(
        home: Home, other_head: tuple[subprocess.Popen[bytes], str]) -> None:
    other, other_address = other_head
    started = home.flyray("cluster", "start", "--num-cpus", "2")
    assert started.returncode == 0, started.stdout + started.stderr
    state = home.state()
    assert state is not None and f"address    {state.gcs_address}" in started.stdout
    assert "127.0.0.1 only" in started.stdout and "INFO" not in started.stdout + started.stderr
    assert (state.flyray_version, state.idle_timeout_s) == (local_cluster.flyray_version(), None)
    again = home.flyray("cluster", "start")
    assert again.returncode == 0 and "already running" in again.stdout, again.stdout
    status = home.flyray("cluster", "status")
    assert status.returncode == 0 and status.stdout.startswith("running"), status.stdout
    assert f"pid        {state.pid}" in status.stdout
    assert "runs until flyray cluster stop" in status.stdout
    assert_private(state)

    # num_cpus is a setting for clusters Flyray starts; connecting must not pass it.
    ran = home.flyray("run", FIXTURE, "double", "--x", "21", FLYRAY_RAY_NUM_CPUS="2")
    assert ran.returncode == 0 and ran.stdout == "42\n", ran.stdout + ran.stderr
    assert "starting" not in ran.stderr, ran.stderr
    assert any("cli_wfs.py" in entry for entry in user_jobs(state.gcs_address))
    # Its workers read the run's settings, not those the cluster started with.
    script = home.path / "scratch" / "settings_wf.py"
    script.parent.mkdir()
    script.write_text(PROJECT_TASK)
    for env, expected in (({}, "flytesnacks"), ({"FLYRAY_PROJECT": "p2"}, "p2")):
        ran = home.flyray("run", str(script), "project", **env)
        assert ran.returncode == 0 and ran.stdout == f"{expected}\n", ran.stdout + ran.stderr
    assert user_jobs(other_address) == []  # the run never crossed into the other cluster
    assert_private(state)

    stopped = home.flyray("cluster", "stop")
    assert stopped.returncode == 0 and f"pid {state.pid}" in stopped.stdout, stopped.stdout
    assert ray_head.session_members(state.pid) == []
    assert other.poll() is None and ray_head.listening(other_address)  # still running
    assert home.flyray("cluster", "stop").stdout.endswith("is not running.\n")
    after = home.flyray("cluster", "status")
    assert after.returncode == 1 and after.stdout.startswith("stopped"), after.stdout


@pytest.mark.fresh_cluster
@pytest.mark.timeout(420)
def test_warm_runtime_starts_once_is_reused_restarts_and_idles_out(home: Home) -> None:
    warm = {"FLYRAY_LOCAL_RUNTIME": "1", "FLYRAY_LOCAL_RUNTIME_IDLE_S": "20"}
    first = home.flyray("run", FIXTURE, "double", "--x", "1", **warm)
    assert first.returncode == 0 and first.stdout == "2\n", first.stdout + first.stderr
    assert "starting a local Ray runtime in the background (first run only)" in first.stderr
    state = home.state()
    assert state is not None and state.idle_timeout_s == 20
    status = home.flyray("cluster", "status")
    assert status.returncode == 0 and "stops after 20 s without one" in status.stdout, \
        status.stdout

    second = home.flyray("run", FIXTURE, "double", "--x", "2", **warm)
    assert second.returncode == 0 and second.stdout == "4\n", second.stdout + second.stderr
    assert "starting" not in second.stderr and home.state() == state, second.stderr
    # Each run had a driver on it: its own, or the spare driver prepared after a run.
    spare_log = home.path / "cluster" / "spare.log"
    served = spare_log.read_text().count(" serving: ") if spare_log.exists() else 0
    assert sum("cli_wfs.py" in entry for entry in user_jobs(state.gcs_address)) + served == 2

    # The runtime dies between runs: the next run says so and starts a new one.
    for pid in ray_head.session_members(state.pid):
        os.kill(pid, signal.SIGKILL)
    third = home.flyray("run", FIXTURE, "double", "--x", "3", **warm)
    assert third.returncode == 0 and third.stdout == "6\n", third.stdout + third.stderr
    assert f"(pid {state.pid}) is no longer running" in third.stderr, third.stderr
    assert "starting a new one" in third.stderr
    restarted = home.state()
    assert restarted is not None and restarted.pid != state.pid

    deadline = time.monotonic() + 90  # 20 s idle, a poll, the stop's grace
    while local_cluster.runs(restarted):
        assert time.monotonic() < deadline, "the warm runtime did not stop when idle"
        time.sleep(1)
    assert home.state() is None and ray_head.session_members(restarted.pid) == []
    deadline = time.monotonic() + 10  # the spare driver leaves with the cluster
    while local_cluster.spare_pid(home.path / "cluster") is not None:
        assert time.monotonic() < deadline, "the spare driver outlived the cluster"
        time.sleep(0.2)
    assert "no driver connected for 20 s" in Path(restarted.log).read_text()


@pytest.mark.fresh_cluster
@pytest.mark.timeout(180)
def test_a_part_that_does_not_come_up_fails_the_start_loudly(home: Home) -> None:
    # Ray refuses an object store this small: the head exits while starting.
    failed = home.flyray("cluster", "start", FLYRAY_OBJECT_STORE_MEMORY="1Ki")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "the local Ray cluster exited with status 1; the end of its log" in failed.stderr
    assert "the minimum allowed is" in failed.stderr  # Ray's own words, from the log
    assert home.state() is None


def test_waiting_for_a_head_names_the_part_that_does_not_answer(tmp_path: Path) -> None:
    (tmp_path / "ray_current_cluster").write_text("127.0.0.1:1")  # the head is up, but
    closed = f"http://127.0.0.1:{free_port()}/api/healthz"  # its job agent never answers
    process = subprocess.Popen(["sleep", "30"])
    try:
        why = ray_head.wait_until_up(process, tmp_path, {"job agent": closed}, timeout=1)
    finally:
        process.kill()
        process.wait()
    assert why == f"started, but its job agent did not answer within 1 s ({closed})"


def test_a_cluster_of_another_python_or_flyray_is_refused() -> None:
    state = ClusterState(1, "127.0.0.1:1", "http://127.0.0.1:2", "/tmp/x", "/tmp/x.log",
                         sys.executable, sys.prefix, local_cluster.flyray_version(), None,
                         "2026-01-01T00:00:00+00:00", "digest")
    local_cluster.check_compatible(state)  # the same: fine
    other_python = dataclasses.replace(state, python="/opt/other/bin/python",
                                       python_prefix="/opt/other")
    with pytest.raises(ConfigError) as info:
        local_cluster.check_compatible(other_python)
    assert "runs Python /opt/other/bin/python in /opt/other" in str(info.value)
    assert "flyray cluster stop" in str(info.value)
    with pytest.raises(ConfigError, match=r"runs Flyray 0\.0\.1 \(this run: "):
        local_cluster.check_compatible(dataclasses.replace(state, flyray_version="0.0.1"))


def test_warm_runtime_settings() -> None:
    assert load_settings({"FLYRAY_HOME": "/tmp/h"}).local_runtime is True
    settings = load_settings({"FLYRAY_HOME": "/tmp/h", "FLYRAY_LOCAL_RUNTIME": "off",
                              "FLYRAY_LOCAL_RUNTIME_IDLE_S": "90"})
    assert (settings.local_runtime, settings.local_runtime_idle_s) == (False, 90.0)
    with pytest.raises(ConfigError, match="FLYRAY_LOCAL_RUNTIME_IDLE_S: local_runtime_idle_s "
                                          "must be a positive number of seconds"):
        load_settings({"FLYRAY_HOME": "/tmp/h", "FLYRAY_LOCAL_RUNTIME_IDLE_S": "0"})
    # Workers of the home's cluster get the run's settings, but not which cluster to use,
    # nor the control plane's delivery credentials.
    assert settings_variables({"FLYRAY_HOME": "/h", "RAY_ADDRESS": "x:1",
                               "FLYRAY_RAY_ADDRESS": "x:1", "AWS_REGION": "eu",
                               "FLYRAY_LOCAL_RUNTIME": "1", "FLYRAY_CATALOG_URL": "",
                               "FLYRAY_SMTP_PASSWORD": "pw",
                               "FLYRAY_PAGERDUTY_ROUTING_KEY": "rk",
                               "PATH": "/bin"}) == {
        "AWS_REGION": "eu", "FLYRAY_HOME": "/h"}


def test_a_runs_job_configuration_does_not_leak_into_the_cluster_it_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `flyray run -e KEY=VALUE` hands its variables to its job this way; the warm runtime
    # that run may start outlives it and must not pass them on to later runs' workers.
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", '{"runtime_env": {"env_vars": {"A": "1"}}}')
    monkeypatch.setenv("FLYRAY_PROJECT", "mine")
    env = local_cluster._environment(load_settings({"FLYRAY_HOME": str(tmp_path)}))
    assert "RAY_JOB_CONFIG_JSON_ENV_VAR" not in env and "FLYRAY_PROJECT" not in env
    assert env["FLYRAY_HOME"] == str(tmp_path.resolve())
