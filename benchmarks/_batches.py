"""Raw Ray's side of a map: elements in batches, cut as Flyray's map runner cuts them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ray


def batch_size(n: int) -> int:
    """A few batches per CPU of the cluster, as ``engine.dag.run.map_runner`` sizes them."""
    cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1.0)))
    return max(1, math.ceil(n / (4 * cpus)))


@ray.remote
def _apply(fn: Callable[[Any], Any], chunk: list[Any]) -> list[Any]:
    return [fn(x) for x in chunk]


def raw_map(fn: Callable[[Any], Any], xs: list[Any]) -> list[Any]:
    """``[fn(x) for x in xs]`` on Ray, one remote call per batch."""
    size = batch_size(len(xs))
    fn_ref = ray.put(fn)
    parts = ray.get([_apply.remote(fn_ref, xs[i:i + size]) for i in range(0, len(xs), size)])
    return [y for part in parts for y in part]
