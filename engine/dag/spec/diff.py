"""Where two JSON documents differ, as paths such as ``interface.inputs[0].type``.

The admin API names them when it refuses a spec under a taken identifier; the CLI when it
compares specs with what is registered (``flyray register files --dry-run``)."""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_diff(old: Any, new: Any, limit: int = 20) -> list[str]:
    """Paths at which ``new`` differs from ``old``, in document order, at most ``limit``.

    Key order counts (a spec's inputs and dict bindings keep declaration order): two
    objects with the same members in another order differ at the object's own path.
    Values of different JSON types differ even when Python calls them equal (1, 1.0, True).
    """
    found: list[str] = []
    _walk(old, new, "", found, limit)
    return found


def _walk(old: Any, new: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in old or key not in new:
                found.append(_child(path, key))
            else:
                _walk(old[key], new[key], _child(path, key), found, limit)
            if len(found) >= limit:
                return
        if list(old) != list(new) and old.keys() == new.keys():
            found.append(f"{path or '$'} (key order)")
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            if i >= len(old) or i >= len(new):
                found.append(f"{path}[{i}]")
            else:
                _walk(old[i], new[i], f"{path}[{i}]", found, limit)
            if len(found) >= limit:
                return
        return
    if type(old) is not type(new) or old != new:
        found.append(path or "$")


def _child(path: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"
