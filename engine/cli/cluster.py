"""``flyray cluster start|stop|status``: the local Ray cluster of a Flyray home, which runs
of the home reuse (see :mod:`engine.dag.run.local_cluster`)."""

from __future__ import annotations

import sys
import time

import click

from engine.cli.common import settings, with_cli_errors
from engine.dag.run import local_cluster
from engine.dag.run.local_cluster import ClusterState, LocalClusterError, span

_EXPOSE = ("It listens on 127.0.0.1 only. To run a cluster that other machines reach, "
           "start it yourself (ray start --head) and point Flyray at it with "
           "FLYRAY_RAY_ADDRESS.")


@click.group(help="Start, stop or inspect the local Ray cluster that runs of this Flyray "
             "home reuse.")
def cluster() -> None:
    pass


def _describe(state: ClusterState) -> list[str]:
    dashboard = (f"{state.dashboard_url} (job API: ray job submit --address "
                 f"{state.dashboard_url})" if state.dashboard_url else
                 "none (the warm runtime starts without; flyray cluster start starts one)")
    return [f"  address    {state.gcs_address}",
            f"  dashboard  {dashboard}",
            f"  pid        {state.pid} (leads the session of its processes)",
            f"  Python     {state.python}, Flyray {state.flyray_version}",
            f"  log        {state.log}"]


@cluster.command(help="Start the local Ray cluster of this Flyray home, on 127.0.0.1 only "
                 "(nothing to do when it runs already).")
@click.option("--num-cpus", type=click.IntRange(min=1), default=None,
              help="CPUs to offer (default: FLYRAY_RAY_NUM_CPUS, else all).")
@click.option("--num-gpus", type=click.IntRange(min=0), default=None,
              help="GPUs to offer (default: detected).")
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS",
              help="Stop once no run has been connected for this long (default: run until "
              "flyray cluster stop).")
@with_cli_errors
def start(num_cpus: int | None, num_gpus: int | None, idle_timeout: float | None) -> None:
    current = settings()
    with local_cluster.locked(local_cluster.cluster_dir(current)):
        running, _ = local_cluster.find(current)
        if running is not None:
            click.echo("The local Ray cluster of this Flyray home is already running "
                       f"(since {running.started_at}):")
            click.echo("\n".join(_describe(running)))
            return
        click.echo("Starting the local Ray cluster of this Flyray home ...")
        began = time.monotonic()
        state = local_cluster.start(current, num_cpus=num_cpus, num_gpus=num_gpus,
                                    idle_timeout_s=idle_timeout)
    click.echo(f"Started in {time.monotonic() - began:.1f} s:")
    click.echo("\n".join(_describe(state)))
    click.echo(f"Runs of this Flyray home ({current.home}) use it. {_EXPOSE}\n"
               "Stop it: flyray cluster stop")


@cluster.command(help="Stop the local Ray cluster of this Flyray home: exactly its "
                 "processes, never another Ray cluster of the machine.")
@with_cli_errors
def stop() -> None:
    state = local_cluster.stop(settings())
    if state is None:
        click.echo("The local Ray cluster of this Flyray home is not running.")
        return
    click.echo(f"Stopped the local Ray cluster (pid {state.pid}, {state.gcs_address}).")


@cluster.command(help="Show whether the local Ray cluster of this Flyray home runs, where, "
                 "and how long it has been idle; exit status 1 when it does not run.")
@with_cli_errors
def status() -> None:
    current = settings()
    state = local_cluster.ClusterState.load(local_cluster.state_path(current))
    if state is None or not local_cluster.runs(state):
        click.echo("stopped: no local Ray cluster of this Flyray home runs; a run starts "
                   "one (unless FLYRAY_LOCAL_RUNTIME=0), or: flyray cluster start")
        sys.exit(1)
    click.echo(f"running since {state.started_at}")
    click.echo("\n".join(_describe(state)))
    click.echo(f"  idle       {_idle(state)}")


def _idle(state: ClusterState) -> str:
    """How long the cluster has had no run connected, and when it stops by itself."""
    try:
        idle = local_cluster.idle_for(state)
    except LocalClusterError as e:
        return f"unknown: {e}"
    now = "a run is connected" if idle is None else f"no run connected for {span(idle)}"
    if state.idle_timeout_s is None:
        return f"{now}; runs until flyray cluster stop"
    return f"{now}; stops after {span(state.idle_timeout_s)} without one"

