"""Code bundles: deterministic bytes, one top-level directory, what is left out, and the
modules of every registered spec importing from the unpacked bundle alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.remote.bundle import (
    MAX_BYTES,
    TOP_DIRECTORY,
    BundleError,
    build_bundle,
    source_files,
    upload_bundle,
)
from engine.remote.packages import find_entities, load_package
from engine.remote.registration import flyray_packages, plan_registration

ROOT = Path(__file__).resolve().parents[3]


def make_tree(root: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/mod.py": "X = 1\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/data.csv": "a,b\n1,2\n",
        "top.py": "import pkg.mod\n",
        "run.sh": "#!/bin/sh\necho hi\n",
        # Left out:
        "pkg/__pycache__/mod.cpython-311.pyc": "junk",
        "pkg/stale.pyc": "junk",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".env": "SECRET=1\n",
        "pkg/.hidden.py": "",
        "venv/pyvenv.cfg": "home = /usr\n",
        "venv/lib/site.py": "",
        "pkg.egg-info/PKG-INFO": "",
        "node_modules/x/index.js": "",
        "data/big.parquet": "rows",
        "notes/draft.md": "",
        ".flyrayignore": "# data stays out\ndata/\n*.md\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "run.sh").chmod(0o755)


KEPT = ["pkg/__init__.py", "pkg/mod.py", "pkg/sub/__init__.py", "pkg/sub/data.csv",
        "run.sh", "top.py"]


def test_bundle_holds_the_source_tree_under_one_directory(tmp_path: Path) -> None:
    make_tree(tmp_path)
    assert source_files(tmp_path) == KEPT
    bundle = build_bundle(tmp_path)
    with zipfile.ZipFile(_write(bundle.data, tmp_path / "out.zip")) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == [f"{TOP_DIRECTORY}/", *(f"{TOP_DIRECTORY}/{rel}" for rel in KEPT)]
        assert {n.split("/")[0] for n in names} == {TOP_DIRECTORY}
        assert archive.read(f"{TOP_DIRECTORY}/pkg/mod.py") == b"X = 1\n"
        modes = {i.filename.rsplit("/", 1)[-1]: (i.external_attr >> 16) & 0o777 for i in infos}
        assert modes["run.sh"] == 0o755 and modes["mod.py"] == 0o644
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert bundle.files == tuple(KEPT)
    assert bundle.key == f"code/{bundle.digest}.zip"


def test_same_files_give_the_same_bytes_whatever_their_times(tmp_path: Path) -> None:
    make_tree(tmp_path / "a")
    first = build_bundle(tmp_path / "a")
    for rel in KEPT:
        os.utime(tmp_path / "a" / rel, (1_000_000, 1_000_000))
    # The same tree elsewhere, written later, in another order.
    make_tree(tmp_path / "b")
    assert build_bundle(tmp_path / "a").data == first.data
    assert build_bundle(tmp_path / "b").digest == first.digest
    (tmp_path / "b" / "pkg" / "mod.py").write_text("X = 2\n")
    assert build_bundle(tmp_path / "b").digest != first.digest


def test_excluded_paths_stay_out(tmp_path: Path) -> None:
    make_tree(tmp_path)
    files = source_files(tmp_path, exclude=[tmp_path / "pkg" / "sub", tmp_path / "run.sh"])
    assert files == ["pkg/__init__.py", "pkg/mod.py", "top.py"]


def test_a_tree_too_large_to_bundle_names_its_largest_files(tmp_path: Path) -> None:
    make_tree(tmp_path)
    with open(tmp_path / "pkg" / "huge.bin", "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: large, but takes no disk
    with pytest.raises(BundleError, match=r"more than a code bundle may .* pkg/huge\.bin"):
        build_bundle(tmp_path)


def test_upload_is_content_addressed_and_done_once(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    bundle = build_bundle(tmp_path / "src")
    store = BlobStore(StorageConfig(root=f"file://{tmp_path}/blobs"))
    uri = upload_bundle(bundle, store)
    assert uri == f"file://{tmp_path}/blobs/code/{bundle.digest}.zip"
    assert store.read_bytes(uri) == bundle.data
    # A blob cut short is written again; a whole one is left alone.
    store.write_bytes(uri, bundle.data[:10])
    assert upload_bundle(bundle, store) == uri
    assert store.read_bytes(uri) == bundle.data


def test_every_spec_module_imports_from_the_unpacked_bundle(tmp_path: Path) -> None:
    package = load_package(ROOT / "tests" / "fixtures" / "remote_pkg")
    steps = plan_registration(find_entities(package.modules))
    bundle = build_bundle(package.root, flyray_packages())
    assert bundle.root == ROOT
    assert not any(f.startswith(("engine/", "serve/")) for f in bundle.files)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(_write(bundle.data, tmp_path / "code.zip")) as archive:
        archive.extractall(unpacked)
    assert [p.name for p in unpacked.iterdir()] == [TOP_DIRECTORY]
    workdir = unpacked / TOP_DIRECTORY
    tasks = [(s.spec["module"], s.spec["attribute"]) for s in steps
             if s.kind.value == "task"]
    # A fresh interpreter whose working directory is the bundle's, as Ray's working_dir
    # gives the workers: each task imports, and its helper module is the bundle's.
    script = (
        "import importlib, json, sys\n"
        f"tasks = {tasks!r}\n"
        "found = {f'{m}.{a}': importlib.import_module(m).__dict__[a].fn.__module__ "
        "for m, a in tasks}\n"
        "helper = importlib.import_module('tests.fixtures.remote_pkg.helpers.arithmetic')\n"
        "double = importlib.import_module('tests.fixtures.remote_pkg.tasks').double\n"
        "print(json.dumps({'found': found, 'helper': helper.__file__, "
        "'double': double.fn(21)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    reply = json.loads(proc.stdout)
    assert set(reply["found"]) == {f"{m}.{a}" for m, a in tasks}
    assert Path(reply["helper"]).resolve().is_relative_to(workdir.resolve())
    assert reply["double"] == 42


def _write(data: bytes, path: Path) -> Path:
    path.write_bytes(data)
    return path
