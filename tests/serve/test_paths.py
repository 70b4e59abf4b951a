"""No id, name or URI from a client becomes a path outside its root (RELIABILITY.md P6):
a fixed corpus of traversal, absolute, encoded, foreign-scheme and NUL forms, and a
symlink inside the blob store that leads out of it, sent to every endpoint that takes
one, is refused with a 4xx; nothing outside the root is read or written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from serve.store.inputs import inside
from tests.fixtures import remote_wfs
from tests.serve.specs import DOMAIN, PROJECT, register_workflow, task_body

CORPUS = ["..", "../../etc/passwd", "..%2f..%2f", "%252e%252e/", "/etc/passwd",
          "file:///etc/shadow", "s3://other-bucket/x", "http://169.254.169.254/", "a\x00b"]
EX = f"{PROJECT}/{DOMAIN}"
# Endpoints with an id or name in their path; {} is where the corpus goes.
PATHS = ["/api/v1/projects/{}", f"/api/v1/executions/{EX}/{{}}",
         f"/api/v1/node_executions/{EX}/{{}}", f"/api/v1/node_executions/{EX}/e1/{{}}",
         f"/api/v1/data/executions/{EX}/{{}}", f"/api/v1/data/node_executions/{EX}/e1/{{}}",
         f"/api/v1/decks/{EX}/e1/{{}}", f"/api/v1/decks/{EX}/{{}}/n0",
         f"/api/v1/logs/{EX}/e1/{{}}", f"/api/v1/logs/{EX}/{{}}/n0",
         f"/api/v1/executions/{EX}/{{}}/changes", f"/api/v1/signals/{EX}/{{}}",
         f"/api/v1/tasks/{EX}/{{}}", f"/api/v1/workflows/{EX}/{{}}/v1",
         f"/api/v1/launch_plans/{EX}/{{}}"]


def _segment(text: str) -> str:
    """``text`` as one path segment, dots encoded too so no client folds ``..`` away."""
    return quote(text, safe="").replace(".", "%2E")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the blob store holding a file, and a symlink to it from inside
    the blob store (file://<home>/blobs)."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text("outside-the-root")
    (tmp_path / "blobs").mkdir(exist_ok=True)
    os.symlink(directory, tmp_path / "blobs" / "link")
    return directory


def _uris(tmp_path: Path) -> list[str]:
    return [*CORPUS, f"file://{tmp_path}/blobs/link/secret.txt",
            f"file://{tmp_path}/blobs/%2e%2e/outside/secret.txt",
            f"file://{tmp_path}/blobs/..%2foutside/secret.txt"]


def _unchanged(directory: Path) -> None:
    assert sorted(p.name for p in directory.iterdir()) == ["secret.txt"]
    assert (directory / "secret.txt").read_text() == "outside-the-root"


def test_ids_and_names_in_paths_are_refused(client: TestClient, outside: Path) -> None:
    for template in PATHS:
        for text in CORPUS:
            response = client.get(template.format(_segment(text)))
            assert 400 <= response.status_code < 500, (template, text, response.text)
            assert "root:" not in response.text and "outside-the-root" not in response.text
    _unchanged(outside)


def _launch(client: TestClient, **body: Any) -> Any:
    return client.post("/api/v1/executions", json={"project": PROJECT, "domain": DOMAIN,
                                                   **body})


def test_file_inputs_and_raw_output_prefixes_outside_the_blob_store_are_refused(
        remote_sqlite: TestClient, outside: Path, tmp_path: Path) -> None:
    client = remote_sqlite
    ident = register_workflow(client, remote_wfs.file_size)
    target = {"workflow": {"name": ident["name"], "version": ident["version"]}}
    for uri in _uris(tmp_path):
        response = _launch(client, **target, inputs={"f": uri})
        assert response.status_code == 400, (uri, response.text)
        assert "inside the blob store" in response.text or "NUL" in response.text
        response = _launch(client, **target, inputs={"f": f"file://{tmp_path}/blobs/x"},
                           raw_output_prefix=uri)
        assert response.status_code == 400, (uri, response.text)
    _unchanged(outside)
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == ["link"]


def test_code_uris_outside_the_blob_store_are_refused(client: TestClient, outside: Path,
                                                      tmp_path: Path) -> None:
    # A bundle is Ray's working_dir for the executions: one from another bucket, a web
    # server or a path on the cluster would run code the blob store never held.
    body = task_body(remote_wfs.add_one)
    for uri in ("..", "../../etc/passwd", "/etc/passwd", "a\x00b", "file:///a\x00b",
                "https://example.com/code.zip", "s3://other-bucket/code.zip",
                "file:///tmp/code.zip", *_uris(tmp_path)):
        response = client.post("/api/v1/tasks", json={**body, "code_uri": uri})
        assert response.status_code == 400, (uri, response.text)
    inside_root = f"file://{tmp_path}/blobs/code/0123abcd.zip"
    response = client.post("/api/v1/tasks", json={**body, "code_uri": inside_root})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("uri", CORPUS + ["file:///r/blobs/a/../../x", "file:///r/blobs",
                                          "file:///r/blobsmore/x", "file:///r/blobs/a%2Fb",
                                          "file:///r/blobs/a\\..\\b"])
def test_inside_refuses_the_corpus(uri: str) -> None:
    assert not inside(uri, "file:///r/blobs")
    assert not inside(uri, "s3://bucket/blobs")


def test_inside_follows_symlinks_of_file_roots(outside: Path, tmp_path: Path) -> None:
    root = f"file://{tmp_path}/blobs"
    assert inside(f"{root}/a/b.txt", root)
    assert not inside(f"{root}/link/secret.txt", root)
    assert not inside(f"{root}/link", root)
