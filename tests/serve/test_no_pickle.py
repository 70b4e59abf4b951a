"""The server never unpickles what a client sends (RELIABILITY.md P3): every route that
takes a body refuses a pickle, and nothing under serve/ can unpickle at all.

Pickled objects are made and read only inside task workers (engine/), where the user's
own code runs anyway.
"""

from __future__ import annotations

import ast
import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

SERVE = Path(__file__).resolve().parents[2] / "serve"
# Modules whose loading functions run code named by the data they read.
UNPICKLERS = {"pickle", "cloudpickle", "dill", "marshal", "shelve", "jsonpickle"}
PICKLE_TYPES = ("application/octet-stream", "application/python-pickle")


class _Plants:
    """Unpickling this makes a directory: a pickle that proves it was never loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route of the app, those of included routers too."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # an included router
            yield from route.effective_route_contexts()
        elif isinstance(route, APIRoute):
            yield route


def test_every_body_taking_route_refuses_a_pickle(client: TestClient, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Plants(marker))
    tried = []
    for route in _routes(client.app.routes):  # type: ignore[attr-defined]
        for method in sorted(route.methods - {"GET", "HEAD", "DELETE", "OPTIONS"}):
            url = re.sub(r"\{[^}]+\}", "x", route.path)
            for content_type in PICKLE_TYPES:
                response = client.request(method, url, content=payload,
                                          headers={"Content-Type": content_type})
                # 415: the API takes JSON bodies only; 403: the console refuses a form
                # without its CSRF token before reading it.
                expected = 415 if url.startswith("/api/v1/") else 403
                assert response.status_code == expected, \
                    (method, url, content_type, response.status_code, response.text)
                tried.append(url)
    assert len(set(tried)) >= 15 and "/api/v1/executions" in tried  # the routes were found
    assert not marker.exists()


def _loads_calls(tree: ast.AST) -> list[str]:
    """Imports of unpickling modules, and calls of any ``*.loads``/``*.load`` on them."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[-1] in UNPICKLERS]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or "", *(a.name for a in node.names)]
            found += [n for n in names if n.split(".")[-1] in UNPICKLERS]
        elif isinstance(node, ast.Attribute) and node.attr in ("loads", "load", "Unpickler"):
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name in UNPICKLERS:
                found.append(f"{name}.{node.attr}")
    return found


def test_no_module_under_serve_can_unpickle() -> None:
    modules = sorted(SERVE.rglob("*.py"))
    assert len(modules) > 30
    offenders = {str(m.relative_to(SERVE.parent)): calls for m in modules
                 if (calls := _loads_calls(ast.parse(m.read_text(), str(m))))}
    assert not offenders, f"serve/ must never unpickle client data: {offenders}"


@pytest.mark.parametrize("source", ["import pickle", "from ray import cloudpickle",
                                    "x = ray.cloudpickle.loads(b)", "pickle.Unpickler(f)"])
def test_the_scan_finds_unpickling(source: str) -> None:
    assert _loads_calls(ast.parse(source))
