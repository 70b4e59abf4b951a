"""Storing values that must outlive an execution: small ones inline, large ones by reference.

A stored value is a small JSON object fit for a database record:
``{"inline": <json>}`` or ``{"uri": "s3://...", "format": "json"}``. Raw data
inside it (dataframes as parquet, files, directories) is written to the blob store
by the type engine and referred to by URI in either form.
"""

from __future__ import annotations

import json
from typing import Any

from engine.catalog.blob import BlobStore
from engine.types.type_engine import DataContext, TypeEngine


def store_value(value: Any, python_type: Any, store: BlobStore, prefix: str,
                threshold: int) -> dict[str, Any]:
    """The stored form of ``value``; JSON longer than ``threshold`` bytes is offloaded."""
    return store_json(TypeEngine.to_json(value, python_type, DataContext(store, prefix)),
                      store, prefix, threshold)


def store_json(data: Any, store: BlobStore, prefix: str, threshold: int) -> dict[str, Any]:
    """The stored form of a JSON value ``data`` (offloaded past ``threshold`` bytes)."""
    text = json.dumps(data)
    if len(text.encode()) <= threshold:
        return {"inline": data}
    uri = store.new_uri(prefix, "value.json")
    store.write_bytes(uri, text.encode())
    return {"uri": uri, "format": "json"}


def load_json(stored: dict[str, Any], store: BlobStore) -> Any:
    """The JSON value of a stored form (read from the blob store when offloaded)."""
    return stored["inline"] if "inline" in stored else json.loads(
        store.read_bytes(stored["uri"]))


def load_value(stored: dict[str, Any], python_type: Any, store: BlobStore) -> Any:
    """The Python value of a form written by :func:`store_value`."""
    return TypeEngine.from_json(load_json(stored, store), python_type,
                                DataContext(store, store.uri("tmp")))
