"""``flyray cluster start|stop``: a long-lived local Ray cluster that runs reuse."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from engine.config import load_settings, prepare_ray_environment
from engine.dag.run.spilling import local_cluster_options


def _ray(*args: str) -> int:
    prepare_ray_environment(load_settings())
    return subprocess.call([sys.executable, "-m", "ray.scripts.scripts", *args])


@click.group(help="Start or stop a local Ray cluster that 'flyray run' reuses.")
def cluster() -> None:
    pass


@cluster.command(help="Start a local Ray head (dashboard and job API on 127.0.0.1:8265).")
@click.option("--num-cpus", type=int, default=None, help="CPUs to offer (default: all).")
@click.option("--num-gpus", type=int, default=None, help="GPUs to offer (default: detected).")
def start(num_cpus: int | None, num_gpus: int | None) -> None:
    args = ["start", "--head", "--disable-usage-stats", "--dashboard-host", "127.0.0.1",
            "--node-ip-address", "127.0.0.1"]
    if num_cpus is not None:
        args += ["--num-cpus", str(num_cpus)]
    if num_gpus is not None:
        args += ["--num-gpus", str(num_gpus)]
    options = local_cluster_options(load_settings(), clean_up=False)
    if "object_store_memory" in options:
        args += ["--object-store-memory", str(options["object_store_memory"])]
    if "_system_config" in options:
        args += ["--system-config", json.dumps(options["_system_config"])]
    sys.exit(_ray(*args))


@cluster.command(help="Stop the local Ray cluster.")
def stop() -> None:
    sys.exit(_ray("stop"))
