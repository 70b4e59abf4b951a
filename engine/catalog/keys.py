"""Cache keys: pure functions from a task's spec and input values to catalog names.

As Flyte's DataCatalog: a cached task is a Dataset named ``flyte_task-<task>`` whose
version is ``<cache_version>-<hash of the input interface>-<hash of the output
interface>``; an execution of it is found by the tag ``flyte_cached-<hash of the
input values>``. Unlike Flyte, values are hashed by content: equal dataframes
and files hit even when different executions produced them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.dag.spec import TaskSpec, Variable
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from engine.types.hashing import HashMethod
from engine.types.structured import StructuredDataset, convert
from engine.types.type_engine import TypeEngine, annotated_parts, container_item_type


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


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _interface_hash(variables: tuple[Variable, ...]) -> str:
    return _short(json.dumps([[v.name, v.type.to_dict()] for v in variables]).encode())


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
        digest.update(value_hash(inputs[name], python_types[name]).encode() + b"\0")
    return CacheKey(spec.id.project, spec.id.domain, f"flyte_task-{spec.id.name}",
                    dataset_version(spec), f"flyte_cached-{digest.hexdigest()[:32]}")


def value_hash(value: Any, python_type: Any) -> str:
    """A content hash of ``value``; ``Annotated[T, HashMethod(fn)]`` overrides it."""
    _, meta = annotated_parts(python_type)
    for m in meta:
        if isinstance(m, HashMethod):
            return "custom:" + m.calculate(value)
    if isinstance(value, (FlyteFile, FlyteDirectory)):
        return "blob:" + _blob_hash(value)
    if _is_dataframe(value):
        return "frame:" + _frame_hash(value)
    if isinstance(value, list):
        item = _item(python_type, list)
        return _short("|".join(value_hash(v, item) for v in value).encode())
    if isinstance(value, dict):
        item = _item(python_type, dict)
        return _short("|".join(f"{k}={value_hash(v, item)}"
                               for k, v in sorted(value.items())).encode())
    data = TypeEngine.to_json(value, python_type)
    return _short(json.dumps(data, sort_keys=True).encode())


def _item(python_type: Any, origin: type) -> Any:
    return container_item_type(annotated_parts(python_type)[0], origin)


def _is_dataframe(value: Any) -> bool:
    if isinstance(value, StructuredDataset):
        return True
    name = type(value).__name__
    return name in ("DataFrame", "Table") and type(value).__module__.split(".")[0] in (
        "pandas", "pyarrow")


def _frame_hash(value: Any) -> str:
    """Hash of a dataframe's schema and Arrow data, the same for equal content."""
    if isinstance(value, StructuredDataset) and value.dataframe is None:
        return "uri:" + str(value.uri)
    import pyarrow as pa  # only where a dataframe input is hashed

    table = convert(value, pa.Table, keep_index=True)
    digest = hashlib.sha256(str(table.schema.remove_metadata()).encode())
    for column in table.combine_chunks().columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return digest.hexdigest()[:32]


def _blob_hash(blob: FlyteFile | FlyteDirectory) -> str:
    """Hash of the bytes of a file, or of every file of a directory with its path."""
    digest = hashlib.sha256()
    if isinstance(blob, FlyteDirectory):
        for base, rel in blob.crawl():
            digest.update(rel.encode() + b"\0")
            _update_file(digest, f"{base}/{rel}")
    else:
        _update_file(digest, blob.download())
    return digest.hexdigest()[:32]


def _update_file(digest: Any, path: str) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
