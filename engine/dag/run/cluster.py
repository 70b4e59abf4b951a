"""Getting a Ray cluster, and checking that it can run what a workflow asks for."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import ray

from engine.config import Settings, prepare_ray_environment
from engine.dag.run import local_cluster
from engine.dag.run.spilling import local_cluster_options
from engine.dag.spec import TaskMetadata

_GIB = 2**30


def ensure_ray(settings: Settings) -> None:
    """Connect to the configured cluster, this Flyray home's local cluster, or start one.

    With ``ray_address="auto"`` (the default) the cluster recorded for this Flyray home
    (``flyray cluster start``, or the warm runtime) is reused, which saves Ray's start-up
    on every run; without one, the warm runtime is started in the background for later
    runs too (``local_runtime``), or else a private cluster lives as long as this process.
    No other cluster of the machine is ever joined. ``"local"`` always starts a private
    one; any other address is connected to as given.

    Raises:
        ConfigError: the home's cluster runs another Python or Flyray than this process.
        LocalClusterError: the warm runtime did not start.
    """
    prepare_ray_environment(settings)
    if ray.is_initialized():
        return
    options: dict[str, Any] = {
        "log_to_driver": settings.log_to_driver,
        "logging_level": logging.WARNING,
    }
    if settings.ray_address not in ("auto", "local"):
        ray.init(address=settings.ray_address, **options)
        return
    if settings.ray_address == "auto" and _join_local_cluster(settings, options):
        return
    ray.init(address="local", num_cpus=settings.ray_num_cpus, include_dashboard=False,
             **local_cluster_options(settings), **options)


def _join_local_cluster(settings: Settings, options: dict[str, Any]) -> bool:
    """Connect to the home's local cluster, started now when it is not running and the
    warm runtime is on; whether this process is connected."""
    with local_cluster.locked(local_cluster.cluster_dir(settings)):
        state, gone = local_cluster.find(settings)
        if gone is not None:
            then = ("starting a new one" if settings.local_runtime
                    else "this run starts a private Ray cluster")
            _note(f"the local Ray cluster of this Flyray home (pid {gone.pid}) is no longer "
                  f"running (its log: {gone.log}); {then}")
        if state is None and settings.local_runtime:
            idle = local_cluster.span(settings.local_runtime_idle_s)
            _note("starting a local Ray runtime in the background (first run only); later "
                  f"runs reuse it, and it stops after {idle} without one. Stop it now: "
                  "flyray cluster stop; turn it off: FLYRAY_LOCAL_RUNTIME=0")
            state = local_cluster.start(settings, dashboard=False,
                                        idle_timeout_s=settings.local_runtime_idle_s)
        if state is None:
            return False
        local_cluster.check_compatible(state)
        local_cluster.connect(state, settings, options)
        return True


def _note(message: str) -> None:
    """Tell the user, on stderr, what happens with their cluster."""
    print(f"flyray: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RayRequest:
    """The Ray resources one node attempt asks for."""

    num_cpus: float
    num_gpus: float
    memory: int | None

    def describe(self) -> str:
        parts = [f"cpu={self.num_cpus:g}"]
        if self.num_gpus:
            parts.append(f"gpu={self.num_gpus:g}")
        if self.memory:
            parts.append(f"mem={self.memory / _GIB:.3g} GiB")
        return ", ".join(parts)


# What a node asks for when it requests nothing: the platform default of Flyte's
# deployments, one CPU and no memory reservation.
DEFAULT_CPU = 1.0


def ray_request(metadata: TaskMetadata) -> RayRequest:
    """What Ray reserves for one attempt: the requests; what is not requested gets the
    platform default (1 CPU, no memory reservation) capped by its limit, as in Flyte,
    where limits are ceilings and never what a task asks for.

    GPUs are the exception, as in Flyte (Kubernetes makes a GPU request equal its
    limit): a GPU limit without a GPU request reserves that many GPUs.
    """
    requests, limits = metadata.requests, metadata.limits
    cpu = requests.cpu
    if cpu is None:
        cpu = DEFAULT_CPU if limits.cpu is None else min(DEFAULT_CPU, limits.cpu)
    gpu = requests.gpu if requests.gpu is not None else limits.gpu
    return RayRequest(num_cpus=cpu, num_gpus=gpu or 0.0, memory=requests.mem)


def infeasibility(request: RayRequest, nodes: list[dict[str, Any]]) -> str | None:
    """Why no alive node can ever run ``request``, or None when one can."""
    alive = [n for n in nodes if n.get("Alive", n.get("alive", False))]
    for node in alive:
        res = node.get("Resources", {})
        if (
            res.get("CPU", 0.0) >= request.num_cpus
            and res.get("GPU", 0.0) >= request.num_gpus
            and (request.memory is None or res.get("memory", 0.0) >= request.memory)
        ):
            return None
    shown = "; ".join(
        f"{n.get('NodeManagerAddress', '?')}: CPU={n['Resources'].get('CPU', 0):g}, "
        f"GPU={n['Resources'].get('GPU', 0):g}, "
        f"mem={n['Resources'].get('memory', 0) / _GIB:.3g} GiB"
        for n in alive
    )
    return f"no node of the Ray cluster has {request.describe()} (nodes: {shown or 'none'})"


def cluster_nodes() -> list[dict[str, Any]]:
    return list(ray.nodes())

