"""Memoizing a task's outputs in the data catalog, inside the node's own Ray worker.

Lookups and writes happen where the node runs, so caching never serializes the
DAG through the driver. A catalog that cannot be reached never fails a task: the
task runs uncached and the attempt says so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from engine.catalog.blob import BlobStore
from engine.catalog.keys import CacheKey, cache_key
from engine.catalog.literals import load_value, store_value
from engine.dag.trace import TaskLike
from engine.errors import CatalogError, StorageError
from engine.types.literal import Kind, LiteralType
from engine.types.type_engine import TypeEngine

if TYPE_CHECKING:  # SQLAlchemy loads only where a cached task runs
    from engine.catalog.store import CachedArtifact, CatalogStore

log = logging.getLogger("flyray.catalog")


class CacheStatus(str, Enum):
    DISABLED = "DISABLED"  # the task is not cached
    HIT = "HIT"  # outputs came from the catalog
    MISS = "MISS"  # computed, then stored
    OVERWRITTEN = "OVERWRITTEN"  # recomputed on request, replacing the stored outputs
    FAILED = "FAILED"  # the catalog could not be used; computed and not stored


@dataclass(frozen=True)
class Producer:
    """Whose attempt computed cached outputs: the run (the engine's execution name,
    ``ExecutionRecord.name``, one per driver of a remote execution) and its node."""

    run: str
    node_id: str


@dataclass(frozen=True)
class CacheSettings:
    """What a worker needs to use the catalog; plain data sent with each node."""

    url: str
    offload_threshold: int
    overwrite: bool = False
    # cache_serialize: a holder renews its reservation every ttl/3; a dead one's expires.
    reservation_ttl_s: float = 30.0
    poll_s: float = 0.2


_CATALOGS: dict[str, CatalogStore] = {}
_LOCK = threading.Lock()


def catalog_for(url: str) -> CatalogStore:
    """The catalog of ``url``, opened once per process."""
    with _LOCK:
        store = _CATALOGS.get(url)
        if store is None:
            from engine.catalog.store import CatalogStore

            store = _CATALOGS[url] = CatalogStore(url)
        return store


def cache_prefix(blobs: BlobStore, key: CacheKey) -> str:
    """Where the blobs of cached outputs live; eviction deletes only under it."""
    return blobs.uri("cache", key.dataset, key.version, key.tag)


def memoized(
    task: TaskLike, inputs: dict[str, Any], compute: Callable[[], list[Any]], *,
    settings: CacheSettings, blobs: BlobStore, execution: str, node_id: str,
) -> tuple[list[Any], CacheStatus, Producer | None]:
    """The task's outputs, from the catalog when it has them, else computed and stored;
    with how, and on a HIT who computed them (None otherwise)."""
    spec = task.spec()
    if not spec.metadata.cache:
        return compute(), CacheStatus.DISABLED, None
    iface = task.python_interface
    key = cache_key(spec, inputs, iface.inputs, spec.metadata.cache_ignore_input_vars)
    try:
        catalog = catalog_for(settings.url)
        if not settings.overwrite:
            found = _load(catalog, blobs, key, iface.outputs)
            if found is not None:
                return found[0], CacheStatus.HIT, found[1]
    except CatalogError as e:
        log.warning("task '%s': cache lookup failed, running uncached: %s", task.name, e)
        return compute(), CacheStatus.FAILED, None
    with _reservation(catalog, key, settings, spec.metadata.cache_serialize) as waited:
        if waited and not settings.overwrite:
            found = _load(catalog, blobs, key, iface.outputs)
            if found is not None:
                return found[0], CacheStatus.HIT, found[1]
        values = compute()
        stored = _store(catalog, blobs, key, iface.outputs, values, settings, execution, node_id)
    if not stored:
        return values, CacheStatus.FAILED, None
    return values, CacheStatus.OVERWRITTEN if settings.overwrite else CacheStatus.MISS, None


def _load(catalog: CatalogStore, blobs: BlobStore, key: CacheKey,
          outputs: dict[str, Any]) -> tuple[list[Any], Producer] | None:
    """Outputs of ``key`` and who computed them; a broken entry (a blob vanished) is
    removed and reads as a miss."""
    found = catalog.lookup(key)
    if found is None:
        return None
    try:
        missing = [u for u in found.blob_uris if not blobs.exists(u)]
        if not missing:
            return ([load_value(found.outputs[name], t, blobs) for name, t in outputs.items()],
                    Producer(found.execution, found.node_id))
    except (StorageError, KeyError, TypeError, ValueError) as e:
        missing = [str(e)]
    log.warning("cache entry %s is broken (%s); recomputing", key, missing[0])
    _evict(catalog, blobs, found)
    return None


def _evict(catalog: CatalogStore, blobs: BlobStore, artifact: CachedArtifact) -> None:
    for uri in catalog.delete([artifact.id]):
        delete_owned_blob(blobs, uri)


def delete_owned_blob(blobs: BlobStore, uri: str) -> None:
    """Delete ``uri`` if the catalog owns it (under the cache prefix), not task outputs."""
    if uri.startswith(blobs.uri("cache") + "/"):
        try:
            blobs.delete(uri)
        except StorageError as e:
            log.warning("could not delete cached blob %s: %s", uri, e)


def _store(catalog: CatalogStore, blobs: BlobStore, key: CacheKey, outputs: dict[str, Any],
           values: list[Any], settings: CacheSettings, execution: str, node_id: str) -> bool:
    prefix = cache_prefix(blobs, key) + "/" + uuid.uuid4().hex[:8]
    try:
        stored = {name: store_value(v, t, blobs, prefix, settings.offload_threshold)
                  for (name, t), v in zip(outputs.items(), values, strict=True)}
        uris = sorted({u for (name, t), form in zip(outputs.items(), stored.values(),
                                                    strict=True)
                       for u in stored_uris(form, TypeEngine.to_literal_type(t))})
        size = sum(len(json.dumps(form)) for form in stored.values()) + sum(
            blobs.size(u) for u in uris if u.startswith(prefix))
        _, unused = catalog.put(key, stored, execution=execution, node_id=node_id,
                                size_bytes=size, blob_uris=uris, replace=settings.overwrite)
    except (CatalogError, StorageError, TypeError) as e:
        log.warning("could not store outputs of %s in the catalog: %s", key, e)
        return False
    for uri in unused:
        delete_owned_blob(blobs, uri)
    return True


def stored_uris(form: dict[str, Any], literal: LiteralType) -> list[str]:
    """Every blob URI a stored value refers to (offloaded JSON, files, parquet)."""
    if "uri" in form:
        return [form["uri"]]  # offloaded JSON: the blob holds the rest
    return _uris_in(form.get("inline"), literal)


def _uris_in(data: Any, literal: LiteralType) -> list[str]:
    if data is None:
        return []
    if literal.kind is Kind.BLOB:
        return [data] if isinstance(data, str) and "://" in data else []
    if literal.kind is Kind.DATAFRAME:
        return [data["uri"]] if isinstance(data, dict) and "uri" in data else []
    if literal.kind is Kind.LIST and literal.item is not None:
        return [u for v in data for u in _uris_in(v, literal.item)]
    if literal.kind is Kind.MAP and literal.item is not None:
        return [u for v in data.values() for u in _uris_in(v, literal.item)]
    if literal.kind is Kind.RECORD:
        return [u for n, t in literal.fields for u in _uris_in(data.get(n), t)]
    if literal.kind is Kind.UNION:
        if isinstance(data, dict) and "variant" in data:
            variant = next((v for v in literal.variants if str(v) == data["variant"]), None)
            return _uris_in(data["value"], variant) if variant else []
        return [u for v in literal.variants for u in _uris_in(data, v)][:1]
    return []


@contextmanager
def _reservation(catalog: CatalogStore, key: CacheKey, settings: CacheSettings,
                 serialize: bool) -> Iterator[bool]:
    """With cache_serialize, hold the key's reservation; yields whether we had to wait."""
    if not serialize:
        yield False
        return
    owner = uuid.uuid4().hex
    waited = False
    while not catalog.reserve(key, owner, settings.reservation_ttl_s):
        waited = True
        time.sleep(settings.poll_s)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(settings.reservation_ttl_s / 3):
            catalog.reserve(key, owner, settings.reservation_ttl_s)

    threading.Thread(target=renew, daemon=True, name="flyray-reservation").start()
    try:
        yield waited
    finally:
        done.set()
        catalog.release(key, owner)
