"""Code bundles: the user's source tree as a deterministic zip in the blob store.

A bundle holds exactly one top-level directory, ``flyray-code/``, whose contents are
the source root: the directory that must be on ``sys.path`` for every spec's
``module`` to import. Ray's ``runtime_env={"working_dir": <uri of the zip>}`` unpacks
it into the working directory of the workers that run the code.

The same files give the same bytes: entries are sorted, timestamps and permissions
fixed, so the bundle's SHA-256 names it (``<blob_root>/code/<sha256>.zip``) and
registering unchanged code twice uploads nothing.

Left out: hidden files and directories (``.git``, ``.venv``, ``.env``...),
``__pycache__``, compiled ``*.pyc``, ``*.egg-info``, ``node_modules``, any directory
that is a virtual environment (holds ``pyvenv.cfg``), paths the caller excludes
(Flyray's own packages in a Flyray checkout), and what ``.flyrayignore`` at the root
lists (glob patterns, one a line, matched against the relative path or a name).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.blob import BlobStore
from engine.errors import FlyrayError

TOP_DIRECTORY = "flyray-code"
IGNORE_FILE = ".flyrayignore"
# Above this many bytes of source the bundle is refused: it is built in memory, and a
# data set in the source tree belongs in the blob store, not in every worker.
MAX_BYTES = 256 << 20
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
# 1980-01-01, the earliest time a zip entry can hold.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3  # zip's "made by" system; fixed so the bytes do not depend on the platform


class BundleError(FlyrayError):
    """The source tree cannot be bundled (too large, unreadable)."""


@dataclass(frozen=True)
class Bundle:
    """A built bundle: the zip's bytes and what it holds."""

    root: Path  # the source root whose contents are the zip's top-level directory
    data: bytes
    digest: str  # SHA-256 of ``data``, hex
    files: tuple[str, ...]  # paths relative to the root, '/'-separated, sorted

    @property
    def key(self) -> str:
        """The bundle's content-addressed name under the blob store's root."""
        return f"code/{self.digest}.zip"


def _ignore_patterns(root: Path) -> list[str]:
    path = root / IGNORE_FILE
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def _ignored(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def _skipped_dir(path: Path, rel: str, excluded: set[Path], patterns: list[str]) -> bool:
    name = path.name
    return (name.startswith(".") or name in _SKIPPED_DIRS or name.endswith(".egg-info")
            or path.is_symlink() or (path / "pyvenv.cfg").is_file()
            or path.resolve() in excluded or _ignored(rel, patterns))


def source_files(root: Path, exclude: Iterable[Path] = ()) -> list[str]:
    """The files of ``root`` a bundle holds, relative and sorted."""
    root = root.resolve()
    excluded = {Path(p).resolve() for p in exclude}
    patterns = _ignore_patterns(root)
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        base = here.relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        dirs[:] = sorted(d for d in dirs
                         if not _skipped_dir(here / d, prefix + d, excluded, patterns))
        for name in files:
            rel = prefix + name
            path = here / name
            if (name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES)
                    or not path.is_file() or path.resolve() in excluded
                    or _ignored(rel, patterns)):
                continue
            found.append(rel)
    return sorted(found)


def build_bundle(root: Path, exclude: Iterable[Path] = ()) -> Bundle:
    """Zip the source tree at ``root`` (see the module's docstring for what is left out)."""
    root = root.resolve()
    files = source_files(root, exclude)
    sizes = {rel: (root / rel).stat().st_size for rel in files}
    total = sum(sizes.values())
    if total > MAX_BYTES:
        largest = sorted(sizes, key=lambda rel: -sizes[rel])[:5]
        shown = ", ".join(f"{rel} ({sizes[rel] >> 20} MiB)" for rel in largest)
        raise BundleError(
            f"the source tree {root} holds {total >> 20} MiB, more than a code bundle may "
            f"({MAX_BYTES >> 20} MiB); the largest files: {shown}. Move data out of the "
            f"source tree (into the blob store) or list it in {root / IGNORE_FILE}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        top = zipfile.ZipInfo(f"{TOP_DIRECTORY}/", _FIXED_TIME)
        top.create_system = _UNIX
        top.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10  # 0x10: MS-DOS directory
        archive.writestr(top, b"")
        for rel in files:
            path = root / rel
            try:
                content = path.read_bytes()
                executable = bool(path.stat().st_mode & stat.S_IXUSR)
            except OSError as e:
                raise BundleError(f"cannot read {path} for the code bundle: {e}") from e
            entry = zipfile.ZipInfo(f"{TOP_DIRECTORY}/{rel}", _FIXED_TIME)
            entry.create_system = _UNIX
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            archive.writestr(entry, content)
    data = buffer.getvalue()
    return Bundle(root, data, hashlib.sha256(data).hexdigest(), tuple(files))


def upload_bundle(bundle: Bundle, store: BlobStore) -> str:
    """Write the bundle under its content-addressed key, unless it is there; its URI.

    A blob of the right name but another size (an upload cut short) is written again.
    """
    uri = store.uri(bundle.key)
    if not store.exists(uri) or store.size(uri) != len(bundle.data):
        store.write_bytes(uri, bundle.data)
    return uri
