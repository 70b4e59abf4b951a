"""Getting a Ray cluster, and checking that it can run what a workflow asks for."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ray

from engine.config import Settings, prepare_ray_environment
from engine.dag.run.spilling import local_cluster_options
from engine.dag.spec import TaskMetadata

_GIB = 2**30


def ensure_ray(settings: Settings) -> None:
    """Connect to the configured cluster, a running local one, or start one in-process.

    With ``ray_address="auto"`` (the default) a cluster started earlier with
    ``flyray cluster start`` or ``ray start --head`` is reused, which saves Ray's
    start-up time on every run; without one, a local cluster lives as long as
    this process.
    """
    prepare_ray_environment(settings)
    if ray.is_initialized():
        return
    common: dict[str, Any] = {
        "log_to_driver": settings.log_to_driver,
        "logging_level": logging.WARNING,
    }
    if settings.ray_address not in ("auto", "local"):
        ray.init(address=settings.ray_address, **common)
        return
    if settings.ray_address == "auto":
        try:
            ray.init(address="auto", **common)
            return
        except ConnectionError:
            pass  # no running cluster on this machine: start one below
    ray.init(num_cpus=settings.ray_num_cpus, include_dashboard=False,
             **local_cluster_options(settings), **common)


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


def ray_request(metadata: TaskMetadata) -> RayRequest:
    """Requests, falling back to limits (as Kubernetes does), then to Ray's 1 CPU."""

    def pick(name: str) -> Any:
        for spec in (metadata.requests, metadata.limits):
            value = getattr(spec, name)
            if value is not None:
                return value
        return None

    cpu = pick("cpu")
    return RayRequest(
        num_cpus=1.0 if cpu is None else cpu, num_gpus=pick("gpu") or 0.0, memory=pick("mem")
    )


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

