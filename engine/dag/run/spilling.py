"""Object spilling of a local Ray cluster: to a directory or to S3 (Ray's smart_open).

Ray hangs forever on ``ray.put`` when its S3 spill bucket is missing, so the bucket
is checked before Ray starts. Ray never deletes spilled objects from S3: each
cluster Flyray starts spills under a prefix of its own, deleted at exit.
"""

from __future__ import annotations

import atexit
import json
import uuid
from pathlib import Path
from typing import Any

import ray

from engine.catalog.blob import BlobStore, StorageConfig, protocol_of
from engine.config import Settings
from engine.errors import StorageError


def spilling_config(settings: Settings, session: str) -> dict[str, Any] | None:
    """Ray's ``object_spilling_config`` for ``settings.spill_uri``, after checking it."""
    uri = settings.spill_uri
    if not uri:
        return None
    if protocol_of(uri) == "file":
        directory = Path(uri.split("://", 1)[-1]).expanduser().resolve()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot use {uri} for object spilling: {e}") from e
        return {"type": "filesystem", "params": {"directory_path": str(directory)}}
    if protocol_of(uri) != "s3":
        raise StorageError(f"object spilling to {uri} is not supported: use s3:// or a directory")
    store = BlobStore(_s3_config(settings, uri))
    try:
        store.check()
    except StorageError as e:
        raise StorageError(
            f"cannot spill Ray objects to {uri} (Ray would hang on the first spill): {e}"
        ) from e
    return {"type": "smart_open", "params": {"uri": f"{uri.rstrip('/')}/{session}"}}


def _s3_config(settings: Settings, uri: str) -> StorageConfig:
    return StorageConfig(uri, settings.s3_endpoint_url, settings.s3_region,
                         settings.s3_access_key_id, settings.s3_secret_access_key)


def local_cluster_options(settings: Settings, clean_up: bool = True) -> dict[str, Any]:
    """Extra ``ray.init`` options for a local cluster: object store size and spilling.

    With ``clean_up``, for S3 spilling, an exit hook of this process shuts Ray down,
    then deletes what it spilled (a cluster outliving the process passes False).
    """
    options: dict[str, Any] = {}
    if settings.object_store_memory:
        options["object_store_memory"] = settings.object_store_memory
    session = "flyray-" + uuid.uuid4().hex[:12]
    config = spilling_config(settings, session)
    if config is not None:
        options["_system_config"] = {"object_spilling_config": json.dumps(config)}
        if clean_up and config["type"] == "smart_open":
            atexit.register(_delete_spilled, _s3_config(settings, config["params"]["uri"]))
    return options


def _delete_spilled(config: StorageConfig) -> None:
    ray.shutdown()
    BlobStore(config).delete(config.root)
