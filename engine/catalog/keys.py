"""Cache keys: pure functions from a task's spec and input values to catalog names.

As Flyte's DataCatalog: a cached task is a Dataset named ``flyte_task-<task>`` whose
version is ``<cache_version>-<hash of the input interface>-<hash of the output
interface>``; an execution of it is found by the tag ``flyte_cached-<hash of the
input values>``. Unlike Flyte, values are hashed by content: equal dataframes
and files hit even when different executions produced them. How a value is hashed
is its type's business (``TypeTransformer.content_hash``); this module only combines
the hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.dag.spec import TaskSpec, Variable
from engine.types.hashing import short_hash
from engine.types.type_engine import TypeEngine


@dataclass(frozen=True)
class CacheKey:
    """Where one task execution is memoized in the catalog."""

    project: str
    domain: str
    dataset: str  # flyte_task-<task name>
    version: str  # <cache_version>-<inputs hash>-<outputs hash>
    tag: str  # flyte_cached-<input values hash>

    def __str__(self) -> str:
        return f"{self.dataset}@{self.version}/{self.tag}"


def _interface_hash(variables: tuple[Variable, ...]) -> str:
    return short_hash(json.dumps([[v.name, v.type.to_dict()] for v in variables]).encode())


def dataset_version(spec: TaskSpec) -> str:
    """Changes with the cache_version and with the task's interface."""
    return "-".join([spec.metadata.cache_version, _interface_hash(spec.interface.inputs),
                     _interface_hash(spec.interface.outputs)])


def cache_key(spec: TaskSpec, inputs: dict[str, Any], python_types: dict[str, Any],
              ignore: tuple[str, ...] = ()) -> CacheKey:
    """The key of running the task ``spec`` on ``inputs``; inputs in ``ignore`` don't count."""
    digest = hashlib.sha256()
    for name in sorted(inputs):
        if name in ignore:
            continue
        digest.update(name.encode() + b"\0")
        value_hash = TypeEngine.content_hash(inputs[name], python_types[name])
        digest.update(value_hash.encode() + b"\0")
    return CacheKey(spec.id.project, spec.id.domain, f"flyte_task-{spec.id.name}",
                    dataset_version(spec), f"flyte_cached-{digest.hexdigest()[:32]}")
