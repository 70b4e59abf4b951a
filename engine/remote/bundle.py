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
(Flyray's own packages in a Flyray checkout), what git ignores (the ``.gitignore`` files
of the source tree, and those above it up to the top of its git work tree) and what
``.flyrayignore`` at the root lists. Both files take git's pattern syntax (``name``,
``dir/``, ``*.ext``, ``/anchored``, ``**/x``, ``!re-included``); the patterns of
``.flyrayignore`` come last, so its ``!`` lines can bring back what ``.gitignore`` leaves
out.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from engine.catalog.blob import BlobStore
from engine.errors import FlyrayError

TOP_DIRECTORY = "flyray-code"
IGNORE_FILE = ".flyrayignore"
GIT_IGNORE_FILE = ".gitignore"
# Above this many bytes of source the bundle is refused: it is built in memory, and a
# data set in the source tree belongs in the blob store, not in every worker.
MAX_BYTES = 256 << 20
# Above either, the commands that bundle warn: a bundle this large is most often a source
# root wider than the project (a home or scratch directory, other projects, data, logs).
LARGE_BYTES = 10_000_000
LARGE_FILES = 1000
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

    def file_sizes(self) -> dict[str, int]:
        """Each file's size before compression, by its path under the root, sorted."""
        top = f"{TOP_DIRECTORY}/"
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            return {i.filename[len(top):]: i.file_size for i in archive.infolist()
                    if not i.is_dir()}

    @property
    def source_bytes(self) -> int:
        """The files' total size before compression."""
        return sum(self.file_sizes().values())

    @property
    def large(self) -> bool:
        """Whether it holds more than ``LARGE_FILES`` files or ``LARGE_BYTES`` bytes."""
        return len(self.files) > LARGE_FILES or self.source_bytes > LARGE_BYTES


@dataclass(frozen=True)
class _IgnoreFile:
    """The patterns of one ignore file, and where they apply.

    A path under the source root (``rel``; a directory's ends with ``/``) is matched as
    git matches it against this file: relative to the file's directory, which is
    ``below`` under the root, or (a ``.gitignore`` above the root) the root is ``above``
    under it.
    """

    spec: GitIgnoreSpec
    above: str = ""
    below: str = ""

    def verdict(self, rel: str) -> bool | None:
        """True: ignored; False: brought back by a ``!`` pattern; None: no pattern holds."""
        if not rel.startswith(self.below):
            return None
        return self.spec.check_file(self.above + rel[len(self.below):]).include


def _read_ignore_file(path: Path, above: str = "", below: str = "") -> _IgnoreFile | None:
    if not path.is_file():
        return None
    try:
        spec = GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as e:
        raise BundleError(f"cannot read {path} for the code bundle: {e}") from e
    except ValueError as e:  # pathspec's GitWildMatchPatternError
        raise BundleError(f"{path} holds a pattern git's syntax does not allow ({e}); "
                          "fix or remove that line") from e
    return _IgnoreFile(spec, above, below)


def _ignore_files_above(root: Path) -> list[_IgnoreFile]:
    """The ``.gitignore`` files between the top of the git work tree that holds ``root``
    and ``root`` (outermost first); none outside a git work tree.

    They apply to what is under the root only: the root itself is bundled even when they
    ignore it, since the user named it.
    """
    if (root / ".git").exists():
        return []
    parents = list(root.parents)
    top = next((i for i, p in enumerate(parents) if (p / ".git").exists()), None)
    if top is None:
        return []  # not in a git work tree: git would read none of them
    found = (_read_ignore_file(p / GIT_IGNORE_FILE, above=root.relative_to(p).as_posix() + "/")
             for p in reversed(parents[:top + 1]))
    return [f for f in found if f is not None]


@dataclass(frozen=True)
class _Ignores:
    """The ignore files that hold in one directory of the source tree, in the order git
    reads them: deeper ``.gitignore`` files after (over) those above, ``.flyrayignore``
    last of all."""

    git: tuple[_IgnoreFile, ...]
    flyray: _IgnoreFile | None

    @classmethod
    def of_root(cls, root: Path) -> _Ignores:
        own = _read_ignore_file(root / GIT_IGNORE_FILE)
        git = (*_ignore_files_above(root), *((own,) if own is not None else ()))
        return cls(git, _read_ignore_file(root / IGNORE_FILE))

    def inside(self, directory: Path, prefix: str) -> _Ignores:
        """Those that hold in ``directory`` (``prefix`` under the root, ending in ``/``)."""
        own = _read_ignore_file(directory / GIT_IGNORE_FILE, below=prefix)
        return self if own is None else _Ignores((*self.git, own), self.flyray)

    def ignored(self, rel: str) -> bool:
        """Whether ``rel`` (a directory's ends with ``/``) stays out: the last pattern that
        matches it decides, as in git."""
        last_first: list[_IgnoreFile] = [*reversed(self.git)]
        if self.flyray is not None:
            last_first.insert(0, self.flyray)
        for rules in last_first:
            verdict = rules.verdict(rel)
            if verdict is not None:
                return verdict
        return False


def _skipped_dir(path: Path, rel: str, excluded: set[Path], ignores: _Ignores) -> bool:
    name = path.name
    return (name.startswith(".") or name in _SKIPPED_DIRS or name.endswith(".egg-info")
            or path.is_symlink() or (path / "pyvenv.cfg").is_file()
            or path.resolve() in excluded or ignores.ignored(rel + "/"))


def source_files(root: Path, exclude: Iterable[Path] = ()) -> list[str]:
    """The files of ``root`` a bundle holds, relative and sorted.

    Raises BundleError: an ignore file cannot be read.
    """
    root = root.resolve()
    excluded = {Path(p).resolve() for p in exclude}
    ignores_in = {"": _Ignores.of_root(root)}  # by directory prefix, set before its walk
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        base = here.relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        ignores = ignores_in.pop(prefix)
        if prefix:
            ignores = ignores.inside(here, prefix)
        dirs[:] = sorted(d for d in dirs
                         if not _skipped_dir(here / d, prefix + d, excluded, ignores))
        ignores_in.update((f"{prefix}{d}/", ignores) for d in dirs)
        for name in files:
            rel = prefix + name
            path = here / name
            if (name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES)
                    or not path.is_file() or path.resolve() in excluded
                    or ignores.ignored(rel)):
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
            f"source tree (into the blob store) or list it in {root / GIT_IGNORE_FILE} or "
            f"{root / IGNORE_FILE}")
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
