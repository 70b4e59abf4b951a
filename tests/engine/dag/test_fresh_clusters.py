"""Tests that need a cluster of their own: several nodes, and ``ray job submit``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from engine.dag.run.executor import run
from engine.errors import ResourceRequestError
from tests.fixtures import multinode_wfs

ROOT = Path(__file__).resolve().parents[3]
GIB = 2**30

pytestmark = pytest.mark.fresh_cluster


@pytest.fixture
def two_nodes() -> Iterator[tuple[str, str]]:
    """A head (1 CPU, 2 GiB) and a worker node (3 CPUs, 1 GiB), no GPU anywhere."""
    if ray.is_initialized():
        ray.shutdown()  # the shared cluster; the conftest fixture restarts it if needed
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "num_gpus": 0, "memory": 2 * GIB,
                        "object_store_memory": 150 * 2**20},
    )
    worker = cluster.add_node(num_cpus=3, num_gpus=0, memory=1 * GIB,
                              object_store_memory=150 * 2**20)
    try:
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        cluster.wait_for_nodes()
        yield cluster.head_node.node_id, worker.node_id
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.timeout(180)
def test_dataframe_crosses_nodes_pinned_by_resources(two_nodes: tuple[str, str]) -> None:
    head_id, worker_id = two_nodes
    wf = multinode_wfs.across_nodes
    result = run(wf.compile(), wf.bind_inputs((), {"n": 1000}))
    rows, total, made_on = result.outputs
    assert (rows, total) == (1000, sum(range(1000)))
    producer = result.record.nodes["n0"].attempts[-1].worker["node_id"]
    consumer = result.record.nodes["n1"].attempts[-1].worker["node_id"]
    assert producer == made_on == worker_id
    assert consumer == head_id


@pytest.mark.timeout(180)
def test_gpu_request_fails_fast_without_gpu(two_nodes: tuple[str, str]) -> None:
    wf = multinode_wfs.gpu_wf
    with pytest.raises(ResourceRequestError) as info:
        wf()
    message = str(info.value)
    assert "node 'n0'" in message and "needs_gpu" in message and "gpu=1" in message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_head() -> Iterator[str]:
    """A Ray head started with ``ray start --head`` on 127.0.0.1; yields the job API URL."""
    if ray.is_initialized():
        ray.shutdown()
    temp = tempfile.mkdtemp(prefix="rayjob", dir="/tmp")  # short: Ray's socket paths
    dashboard = _free_port()
    # Job entrypoints run in the head's environment: `python` there must be this
    # interpreter, the one Flyray is installed in.
    env = dict(os.environ, RAY_AUTH_MODE="disabled",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("FLYRAY_HOME", None)
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         "--port", str(_free_port()), "--node-ip-address", "127.0.0.1",
         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
         "--num-cpus", "2", "--temp-dir", temp, "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/version", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or head.poll() is not None:
                    raise RuntimeError("the Ray head did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


@pytest.mark.timeout(240)
def test_ray_job_submit_runs_the_driver_example(ray_head: str) -> None:
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    deadline = time.monotonic() + 60
    while True:
        proc = subprocess.run(
            [sys.executable, "-m", "ray.scripts.scripts", "job", "submit", "--address",
             ray_head, "--working-dir", "examples", "--", "python", "driver.py"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=200, check=False,
        )
        # The head's job agent registers a little after the dashboard answers; until
        # then Ray refuses the job without creating it, and asks to try again.
        if "No available agent" not in proc.stderr or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DefaultNamedTupleOutput(o0=4" in proc.stdout, proc.stdout
    assert "succeeded" in proc.stdout
