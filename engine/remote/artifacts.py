"""Registration artifacts: what ``flyray package`` and ``flyray serialize`` write, for
``flyray register files`` to register later, elsewhere, without importing the code.

An artifact is a flat set of files, written into a directory or one ``.tar.gz``, ``.tgz``
or ``.zip`` archive (the output's name chooses):

- ``manifest.json``: the format, the version the specs are at, the code bundle's digest,
  and every entity in registration order;
- ``NNN-<kind>-<name>.json``: one per task, workflow and launch plan, the spec exactly as
  ``flyray register`` sends it and the admin API stores it (the ``NNN`` prefix is the
  registration order, so ``FILES/*`` in a shell lists them in that order);
- ``bundle.zip``: the code bundle, the very zip ``flyray register`` uploads (``flyray
  package`` only; ``flyray serialize`` leaves it out, for code provided otherwise).

The same code gives the same bytes, so CI caches work: specs are written with a fixed
layout, archive entries sorted, with fixed times, owners and modes, and compressed at a
fixed level (gzip's header holds no name and no time). Reading one back is
:mod:`engine.remote.artifact_files`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import load_settings
from engine.errors import FlyrayError
from engine.remote.bundle import Bundle, build_bundle
from engine.remote.packages import LoadError, find_entities, load_package
from engine.remote.registration import (
    Step,
    content_version,
    flyray_packages,
    modules_outside,
    plan_registration,
    with_version,
)

FORMAT = "flyray-package"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BUNDLE_FILE = "bundle.zip"
# The name of a spec file: its place in registration order, its kind, its entity's name.
SPEC_FILE = re.compile(r"(\d+)-(task|workflow|launch_plan)-[A-Za-z0-9._-]+\.json")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 150  # of the entity's part of a spec file's name: file systems allow 255
# 1980-01-01T00:00:00Z: every archive entry's time, the earliest a zip entry can hold.
_FIXED_EPOCH = 315532800
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_LEVEL = 9  # compression level of archives: fixed, so the bytes are


class ArtifactError(FlyrayError):
    """A registration artifact cannot be written or read (what, where, and how to fix)."""


@dataclass(frozen=True)
class Artifact:
    """What registration needs, away from the code it came from."""

    steps: list[Step]  # in registration order; workflows' default launch plans marked
    version: str | None  # what every spec's identifier holds; None: not one version
    bundle: Bundle | None  # None: the specs only (the cluster provides the code)
    # Task modules neither bundled nor installed where it was built.
    outside: tuple[str, ...] = ()


def build_artifact(path: str | os.PathLike[str], version: str | None,
                   with_bundle: bool) -> Artifact:
    """Import the package at ``path`` (as ``flyray register`` does) and serialize what it
    defines at ``version``: default, as ``flyray register``, a hash of the code bundle and
    of every spec (of the specs alone without a bundle).

    Raises LoadError, BundleError, FlyrayError."""
    package = load_package(path)
    steps = plan_registration(find_entities(package.modules))
    if not steps:
        raise LoadError(f"{path} defines no task, workflow or launch plan to serialize")
    bundle: Bundle | None = None
    outside: list[str] = []
    if with_bundle:
        bundle = build_bundle(package.root, [*flyray_packages(), load_settings().home])
        outside = modules_outside(steps, bundle)
    version = version or content_version(steps, bundle)
    first = steps[0].id  # every spec is in the project and domain of the settings
    return Artifact(with_version(steps, first.project, first.domain, version), version,
                    bundle, tuple(outside))


def spec_file_name(index: int, step: Step, count: int) -> str:
    """``NNN-<kind>-<name>.json``: sorting the names sorts the registration order."""
    name = _UNSAFE.sub("_", step.id.name)[:_MAX_NAME]
    return f"{index:0{max(3, len(str(count)))}d}-{step.kind.value}-{name}.json"


def _json_bytes(value: Any) -> bytes:
    # Key order is meaningful in a spec (inputs keep declaration order): never sorted.
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def artifact_files(artifact: Artifact) -> dict[str, bytes]:
    """The artifact's files by name: the manifest, a spec file per entity, the bundle."""
    files: dict[str, bytes] = {}
    entities = []
    for index, step in enumerate(artifact.steps, 1):
        name = spec_file_name(index, step, len(artifact.steps))
        files[name] = _json_bytes(step.spec)
        entities.append({"file": name, "kind": step.kind.value, "name": step.id.name,
                         "default_launch_plan": step.default_plan})
    bundle = artifact.bundle
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": artifact.version,
        "bundle": None if bundle is None else {"file": BUNDLE_FILE, "sha256": bundle.digest,
                                               "files": len(bundle.files)},
        "entities": entities,
    }
    files[MANIFEST] = _json_bytes(manifest)
    if bundle is not None:
        files[BUNDLE_FILE] = bundle.data
    return files


def archive_kind(path: Path) -> str | None:
    """``"tar.gz"`` or ``"zip"`` for an archive's name, None for anything else."""
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    return "zip" if name.endswith(".zip") else None


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    # No file name and time zero in gzip's header: the bytes depend on the content only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=_LEVEL,
                       mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            entry = tarfile.TarInfo(name)
            entry.size = len(files[name])
            entry.mtime = _FIXED_EPOCH
            entry.mode = 0o644
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = ""
            tar.addfile(entry, io.BytesIO(files[name]))
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=_LEVEL) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, _FIXED_TIME)
            entry.create_system = 3  # Unix, whatever the platform
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(entry, files[name], compresslevel=_LEVEL)
    return buffer.getvalue()


def _ours(name: str) -> bool:
    return name in (MANIFEST, BUNDLE_FILE) or SPEC_FILE.fullmatch(name) is not None


def _write_directory(files: dict[str, bytes], out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"{out} exists and is not a directory; give a directory, or a "
                            "file name ending in .tar.gz, .tgz or .zip")
    out.mkdir(parents=True, exist_ok=True)
    others = sorted(p.name for p in out.iterdir() if not _ours(p.name))
    if others:
        raise ArtifactError(f"{out} holds files that are not part of a Flyray package "
                            f"({', '.join(others[:5])}); write into an empty directory")
    for stale in out.iterdir():  # a previous package's: its entities may be gone since
        stale.unlink()
    for name in sorted(files):
        target = out / name
        target.write_bytes(files[name])
        os.utime(target, (_FIXED_EPOCH, _FIXED_EPOCH))


def write_artifact(artifact: Artifact, out: str | os.PathLike[str]) -> Path:
    """Write ``artifact`` to ``out``: an archive when its name ends in ``.tar.gz``,
    ``.tgz`` or ``.zip``, else a directory (created, or emptied of a previous package's
    files; one holding other files is refused). Returns the path written."""
    target = Path(out)
    files = artifact_files(artifact)
    kind = archive_kind(target)
    if kind is None:
        _write_directory(files, target)
        return target
    data = _tar_gz(files) if kind == "tar.gz" else _zip(files)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)  # never a half-written archive under the final name
    return target
