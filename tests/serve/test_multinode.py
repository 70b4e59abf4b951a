"""Flyray beyond one machine: the admin API (Serve), its executors and their tasks on a
multi-node Ray cluster, with PostgreSQL as the admin and catalog databases and S3 (moto's
server) as the blob store. Executions spread over the nodes, and a worker node removed
mid-run costs a system retry, not the execution.

The cluster is a head (no CPU: no task runs there) and two one-CPU worker nodes, each a
``ray start --block`` in a session of its own on this machine, with free ports for every
port Ray opens. Ray runs in processes of their own (``tests/fixtures/multinode_admin.py``):
this process never joins that cluster. It runs after the shared-cluster tests, and stops
the shared cluster to leave its CPUs to this one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import ray

from engine.admin_client import AdminClient
from engine.catalog.blob import StorageConfig
from engine.cli.sandbox import session_members
from engine.core.workflow import PythonFunctionWorkflow
from tests.conftest import S3Server, create_database, drop_database
from tests.fixtures import multinode_admin_wfs as wfs
from tests.serve.specs import DOMAIN, PROJECT, body_of, closure_tasks, workflow_body
from tests.servers import free_port

pytestmark = [pytest.mark.fresh_cluster, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("node_a", "node_b")
READY_TIMEOUT_S = 120.0
EXECUTIONS = "/api/v1/executions"
HANDS = [sys.executable, "-m", "tests.fixtures.multinode_admin"]


@dataclass
class Cluster:
    """The running cluster: its GCS address, the environment of its processes, the
    ``ray start`` process of each node by name ("head", "node_a", "node_b"), and the
    admin API on it with its S3 bucket."""

    address: str
    env: dict[str, str]
    admin: AdminClient
    bucket: StorageConfig
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, options: list[str], logs: Path, **env: str) -> None:
        """``ray start --block`` with ``options`` (see :func:`_ray_start`), in a session
        of its own so that :meth:`kill` finds every process of the node."""
        with open(logs / f"{name}.log", "wb") as out:
            self.nodes[name] = subprocess.Popen(
                options, env={**self.env, **env}, cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def kill(self, name: str) -> None:
        """Remove a node as a crash would: SIGKILL to its ``ray start``, its raylet and
        every worker process of it (they lead process groups of their own, in its
        session)."""
        process = self.nodes[name]
        for pid in [process.pid, *session_members(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

    def where(self) -> dict[str, dict[str, str]]:
        """Ray node ids of the alive nodes by name, and of Flyray's actors by name."""
        found = subprocess.run([*HANDS, "where", self.address], env=self.env, cwd=ROOT,
                               capture_output=True, text=True, timeout=120, check=False)
        assert found.returncode == 0, found.stderr
        return dict(json.loads(found.stdout))


def _ray_start(temp_dir: Path, *options: str) -> list[str]:
    """``ray start --block`` with a free port for every port Ray opens (other local
    clusters, the session's included, take Ray's defaults), a small object store, and
    ``temp_dir`` for its sessions and address file (never the default /tmp/ray, where the
    local clusters of other processes write theirs)."""
    return [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
            # No --node-ip-address: Ray replaces 127.0.0.1 with the machine's own address.
            "--disable-usage-stats", f"--temp-dir={temp_dir}",
            f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
            "--min-worker-port=0", "--max-worker-port=0",  # 0: ports the system picks
            f"--object-store-memory={100 * 2**20}", *options]


def _settings_env(bucket: StorageConfig, admin_db: str, catalog: str,
                  endpoint: str) -> dict[str, str]:
    """The admin's settings, as a Serve config's env_vars would give them."""
    assert bucket.s3_endpoint_url and bucket.s3_access_key_id and bucket.s3_secret_access_key
    return {"FLYRAY_ADMIN_DB_URL": admin_db, "FLYRAY_CATALOG_URL": catalog,
            "FLYRAY_BLOB_ROOT": bucket.root, "FLYRAY_S3_ENDPOINT_URL": bucket.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": bucket.s3_access_key_id,
            "AWS_SECRET_ACCESS_KEY": bucket.s3_secret_access_key,
            "AWS_REGION": bucket.s3_region or "us-east-1", "FLYRAY_ADMIN_ENDPOINT": endpoint}


def _deploy(cluster: Cluster, settings: dict[str, str], logs: Path) -> None:
    """The admin API, deployed while the head is alone: Serve's actors stay there."""
    with open(logs / "deploy.log", "w") as out:
        deployed = subprocess.run([*HANDS, "deploy", cluster.address],
                                  env={**cluster.env, **settings}, cwd=ROOT, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=READY_TIMEOUT_S,
                                  check=False)
    assert deployed.returncode == 0, f"the admin API did not start: see {logs}/deploy.log"


def _start_node(cluster: Cluster, name: str, options: list[str], logs: Path,
                **env: str) -> None:
    """Node ``name``, started with ``options``; returns once it is registered. Ray gives a
    node 30 s to register, which a busy machine may not meet: then it is started again."""
    for _ in range(3):
        cluster.start(name, options, logs, **env)
        if _registered(cluster.nodes[name], logs / f"{name}.log"):
            return
        cluster.kill(name)  # what is left of it
    raise AssertionError(f"Ray node {name} did not start in 3 tries: see {logs}/{name}.log")


def _registered(node: subprocess.Popen[bytes], log: Path) -> bool:
    """True once ``ray start`` says its node is registered; False when it gave up
    waiting for that (any other exit fails the test)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        said = log.read_text(errors="replace")
        if "Ray runtime started." in said:
            return True
        if node.poll() is not None:
            assert "timed out during startup" in said, f"a Ray node failed: see {log}"
            return False
        assert time.monotonic() < deadline, f"a Ray node is not up: see {log}"
        time.sleep(0.2)


@pytest.fixture
def cluster(postgres_server: str, s3_bucket: StorageConfig,
            tmp_path: Path) -> Iterator[Cluster]:
    """Head, admin API, then the two worker nodes; every process is killed and both
    databases dropped afterwards, whatever happened."""
    if ray.is_initialized():
        ray.shutdown()  # the shared cluster's CPUs are this one's now
    admin_db, catalog = create_database(postgres_server), create_database(postgres_server)
    temp_dir = Path(tempfile.mkdtemp(prefix="frmn", dir="/tmp"))  # Ray's socket paths: short
    endpoint = f"http://127.0.0.1:{free_port()}"
    # Every Ray process imports the fixtures from the repository, and has a private home.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "FLYRAY_", "AWS_"))}
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(ROOT),
               FLYRAY_HOME=str(tmp_path / "home"),
               # Workers start when a task needs one, not with their node: less to start.
               RAY_enable_worker_prestart="0")
    running = Cluster(f"127.0.0.1:{free_port()}", env, AdminClient(endpoint, timeout=10),
                      s3_bucket)
    try:
        port = running.address.rsplit(":", 1)[1]
        _start_node(running, "head", _ray_start(
            temp_dir, "--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false",
            f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}"),
                    tmp_path)
        _deploy(running, _settings_env(s3_bucket, admin_db, catalog, endpoint), tmp_path)
        for name in WORKERS:  # one at a time: the machine may have 2 cores
            # Named in a custom resource, and to its tasks in NODE_VAR.
            _start_node(running, name, _ray_start(
                temp_dir, f"--address={running.address}", "--num-cpus=1",
                f"--resources={json.dumps({name: 1})}"), tmp_path, **{wfs.NODE_VAR: name})
        yield running
    finally:
        for name in [*WORKERS, "head"]:
            if name in running.nodes:
                running.kill(name)
        shutil.rmtree(temp_dir, ignore_errors=True)
        drop_database(admin_db)
        drop_database(catalog)


def _launch(admin: AdminClient, wf: PythonFunctionWorkflow, **inputs: Any) -> str:
    """Registers the workflow (its tasks first) and launches it; the execution's name."""
    for task in closure_tasks(wf):
        admin.post("/api/v1/tasks", body_of(task.to_dict()))
    body = workflow_body(wf)
    admin.post("/api/v1/workflows", body)
    created = admin.post(EXECUTIONS, {
        "project": PROJECT, "domain": DOMAIN, "inputs": inputs,
        "workflow": {"name": body["id"]["name"], "version": body["id"]["version"]}}).body
    return str(created["id"]["name"])


def _succeeded(admin: AdminClient, name: str,
               timeout_s: float = 120.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Outputs and node executions of the execution, which must end SUCCEEDED."""
    deadline = time.monotonic() + timeout_s
    while True:
        execution = admin.get(f"{EXECUTIONS}/{PROJECT}/{DOMAIN}/{name}")
        if execution["closure"]["phase"] not in ("QUEUED", "RUNNING"):
            break
        assert time.monotonic() < deadline, f"execution {name} did not end: {execution}"
        time.sleep(0.2)
    nodes = admin.get(f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}")["node_executions"]
    closure = execution["closure"]
    assert closure["phase"] == "SUCCEEDED", (
        f"execution {name} ended {closure['phase']}: {closure['error']}; attempts: "
        f"{[(n['id']['node_id'], a['error']) for n in nodes for a in n['attempts']]}")
    outputs = admin.get(f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/{name}")["outputs"]
    return outputs, nodes


def test_executions_spread_over_the_nodes_and_survive_losing_one(
        cluster: Cluster, s3_server: S3Server, tmp_path: Path) -> None:
    # (a) Four one-CPU naps on two one-CPU nodes: both nodes run some; their files pass
    # through the S3 blob store.
    outputs, nodes = _succeeded(cluster.admin,
                                _launch(cluster.admin, wfs.four_naps, seconds=1.0))
    assert sorted(set(outputs["o0"])) == sorted(WORKERS)
    ran_on = {a["worker"]["node_id"] for n in nodes for a in n["attempts"]}
    assert len(ran_on) == len(WORKERS), nodes
    bucket, prefix = cluster.bucket.root.removeprefix("s3://").split("/", 1)
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/raw/")
    assert listed.get("KeyCount", 0) >= 4, listed

    # (b) Two holds, one on each worker node. The node that runs no Flyray actor (Ray
    # places those anywhere) is killed mid-attempt: its hold loses a SYSTEM attempt and
    # runs again on the other node, and the execution succeeds.
    markers = tmp_path / "markers"
    markers.mkdir()
    name = _launch(cluster.admin, wfs.held, marker_dir=str(markers))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(list(markers.glob("started-*"))) < len(WORKERS):
        assert time.monotonic() < deadline, f"the holds did not both start: {markers}"
        time.sleep(0.05)
    where = cluster.where()
    spare = [w for w in WORKERS if where["nodes"][w] not in where["actors"].values()]
    assert spare, f"Flyray's actors run on every worker node: {where}"
    lost = spare[0]
    cluster.kill(lost)
    (markers / "release").touch()
    outputs, nodes = _succeeded(cluster.admin, name)
    (survivor,) = set(WORKERS) - {lost}
    assert (outputs["o0"], outputs["o1"]) == (survivor, survivor)
    retried = [n for n in nodes if len(n["attempts"]) > 1]
    assert len(retried) == 1, nodes
    *failed, last = retried[0]["attempts"]
    assert all(a["error"]["kind"] == "SYSTEM" for a in failed), failed
    assert last["error"] is None and last["worker"]["node_id"] != where["nodes"][lost], last
