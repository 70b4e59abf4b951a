"""The spare driver of the warm runtime, as a user meets it: after one run, the next
``flyray run`` of the same setting is handed to a driver prepared meanwhile, and behaves
exactly as a run of its own: outputs, errors, exit status, Ctrl-C. A run of another
setting is not, and ``flyray cluster stop`` ends the spare with the cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine.dag.run import local_cluster
from tests.engine.cli.conftest import FLYRAY, ROOT, Home

FIXTURE = "tests/fixtures/cli_wfs.py"
WARM = {"FLYRAY_LOCAL_RUNTIME": "1", "FLYRAY_LOCAL_RUNTIME_IDLE_S": "300"}
SLEEPY = """
import time
from engine import task

@task
def sleepy() -> int:
    time.sleep(300)
    return 1
"""


def spare_log(home: Home) -> str:
    path = home.path / "cluster" / "spare.log"
    return path.read_text() if path.exists() else ""


def wait_for_spare(home: Home, ready: int) -> None:
    """Wait until the spare log says ``ready`` spares have become ready."""
    deadline = time.monotonic() + 180
    while spare_log(home).count(" ready at ") < ready:
        assert time.monotonic() < deadline, f"no spare became ready: {spare_log(home)}"
        time.sleep(0.5)


def spares_of(home: Home) -> list[int]:
    """The spare driver processes of ``home`` (by their command line)."""
    marker = f"{home.path / 'cluster' / 'state.json'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"engine.cli.spare" in cmdline and marker in cmdline:
            found.append(int(entry.name))
    return found


def served(home: Home) -> int:
    return spare_log(home).count(" serving: ")


@pytest.mark.fresh_cluster
@pytest.mark.timeout(600)
def test_the_next_run_is_served_by_a_prepared_driver(home: Home) -> None:
    first = home.flyray("run", FIXTURE, "double", "--x", "1", **WARM)
    assert first.returncode == 0 and first.stdout == "2\n", first.stdout + first.stderr
    wait_for_spare(home, 1)

    second = home.flyray("run", FIXTURE, "double", "--x", "21", **WARM)
    assert second.returncode == 0 and second.stdout == "42\n", second.stdout + second.stderr
    assert served(home) == 1 and "starting" not in second.stderr

    # A failure reads as it does from a run of its own: the error, exit status 1.
    wait_for_spare(home, 2)
    failed = home.flyray("run", FIXTURE, "failing_wf", "--n", "5", **WARM)
    assert served(home) == 2
    assert failed.returncode == 1 and failed.stdout == "", failed.stdout
    assert "n=5 is too big for this task" in failed.stderr, failed.stderr

    # Another setting: the spare steps aside, the run goes its own way, and a spare for
    # the new setting follows it.
    wait_for_spare(home, 3)
    other = home.flyray("run", FIXTURE, "double", "--x", "2", FLYRAY_PROJECT="p2", **WARM)
    assert other.returncode == 0 and other.stdout == "4\n", other.stdout + other.stderr
    assert served(home) == 2
    assert "stepping aside for a run with other Flyray or Ray settings (FLYRAY_PROJECT)" \
        in spare_log(home)
    wait_for_spare(home, 4)
    again = home.flyray("run", FIXTURE, "double", "--x", "3", FLYRAY_PROJECT="p2", **WARM)
    assert again.returncode == 0 and again.stdout == "6\n" and served(home) == 3

    # Stopped with the cluster, even right after a run, while the spare that served it
    # prepares its successor.
    assert home.flyray("cluster", "stop").returncode == 0
    deadline = time.monotonic() + 60
    while spares_of(home):
        assert time.monotonic() < deadline, f"spares outlived the cluster: {spares_of(home)}"
        time.sleep(0.5)


@pytest.mark.fresh_cluster
@pytest.mark.timeout(600)
def test_ctrl_c_reaches_a_run_that_a_spare_serves(home: Home, tmp_path: Path) -> None:
    script = tmp_path / "sleepy_wf.py"
    script.write_text(SLEEPY)
    first = home.flyray("run", FIXTURE, "double", "--x", "1", **WARM)
    assert first.returncode == 0, first.stdout + first.stderr
    wait_for_spare(home, 1)
    spare = local_cluster.spare_pid(home.path / "cluster")
    assert spare is not None

    client = subprocess.Popen([FLYRAY, "run", "--no-progress", str(script), "sleepy"],
                              cwd=ROOT, env={**home.env, **WARM}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while served(home) < 1:
        assert time.monotonic() < deadline and client.poll() is None, spare_log(home)
        time.sleep(0.2)
    time.sleep(2)  # the task is running now
    client.send_signal(signal.SIGINT)
    _out, err = client.communicate(timeout=60)
    assert client.returncode != 0, err
    assert not _running(spare, 30)  # the spare ended with the run it served


def _running(pid: int, within: float) -> bool:
    """Whether ``pid`` still runs after waiting up to ``within`` seconds for its end."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        time.sleep(0.2)
    return True
