"""Managing the data catalog from Python: list, evict and clear cached task results.

(Flyte offers no way to do this: flyte#6626.) Evicting removes the blobs the
catalog wrote for an entry too; files that tasks wrote as outputs of their
executions stay where they are.
"""

from __future__ import annotations

import datetime as dt

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.memo import catalog_for, delete_owned_blob
from engine.catalog.store import CacheEntry
from engine.config import Settings, load_settings


def list_entries(task: str | None = None, version: str | None = None,
                 older_than: dt.timedelta | None = None,
                 settings: Settings | None = None) -> list[CacheEntry]:
    """Cached results, newest first.

    Args:
        task: only this task (its full name, e.g. ``examples.basics.compute_stats``).
        version: only this ``cache_version``.
        older_than: only entries created longer ago than this.
    """
    settings = settings or load_settings()
    cutoff = dt.datetime.now(dt.timezone.utc) - older_than if older_than else None
    return catalog_for(settings.catalog_url_or_default).entries(task, version, cutoff)


def evict(artifact_ids: list[str], settings: Settings | None = None) -> int:
    """Remove the given entries and their blobs; returns how many were removed."""
    settings = settings or load_settings()
    catalog = catalog_for(settings.catalog_url_or_default)
    known = {e.artifact_id for e in catalog.entries()}
    ids = [i for i in artifact_ids if i in known]
    blobs = BlobStore(StorageConfig.from_settings(settings))
    for uri in catalog.delete(ids):
        delete_owned_blob(blobs, uri)
    return len(ids)


def evict_task(task: str, version: str | None = None, settings: Settings | None = None) -> int:
    """Remove every entry of ``task`` (of one ``cache_version`` if given)."""
    settings = settings or load_settings()
    ids = [e.artifact_id for e in list_entries(task, version, settings=settings)]
    return evict(ids, settings)


def clear(settings: Settings | None = None) -> int:
    """Remove every entry of the catalog."""
    settings = settings or load_settings()
    return evict([e.artifact_id for e in list_entries(settings=settings)], settings)
