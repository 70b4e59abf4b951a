"""Reading registration artifacts back (see :mod:`engine.remote.artifacts`), with Flyray
alone: no user code is imported, only JSON and the code bundle's bytes are read.

``flyray register files FILES...`` takes package directories, ``.tar.gz``/``.tgz``/``.zip``
archives, spec files (``.json``), a ``manifest.json`` and a ``bundle.zip``, in any mix
(``out/*`` of a package directory included). Every spec is checked as the engine reads it,
and must read back exactly as written: a field this Flyray does not know is an error
naming the file and the field, never silently dropped.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.dag.spec import (
    Identifier,
    LaunchPlanSpec,
    ResourceType,
    TaskSpec,
    WorkflowSpec,
    default_launch_plan,
)
from engine.dag.spec.diff import json_diff
from engine.errors import SpecError
from engine.remote.artifacts import (
    FORMAT,
    FORMAT_VERSION,
    Artifact,
    ArtifactError,
    archive_kind,
)
from engine.remote.bundle import TOP_DIRECTORY, Bundle
from engine.remote.registration import Step

_READERS: dict[ResourceType, Callable[[Any], Any]] = {
    ResourceType.TASK: TaskSpec.from_dict, ResourceType.WORKFLOW: WorkflowSpec.from_dict,
    ResourceType.LAUNCH_PLAN: LaunchPlanSpec.from_dict}
# What the engine's readers raise on a malformed document, besides SpecError.
_MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError)


@dataclass
class _Pool:
    """What the files hold, as read so far."""

    steps: dict[tuple[ResourceType, str], tuple[Step, str]]  # with the file it came from
    manifests: list[tuple[dict[str, Any], str]]
    bundles: list[tuple[bytes, str]]


def _entries(path: Path) -> list[tuple[str, bytes]]:
    """(where, bytes) of each file ``path`` stands for: itself, a directory's files, an
    archive's members."""
    if path.is_dir():
        return [(str(p), p.read_bytes()) for p in sorted(path.iterdir())
                if p.is_file() and not p.name.startswith(".")]
    data = path.read_bytes()
    kind = archive_kind(path)
    if kind == "zip" and _is_bundle(data):
        return [(str(path), data)]
    try:
        if kind == "tar.gz":
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
                return [(f"{path}:{m.name}", _read_member(tar, m)) for m in members]
        if kind == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return [(f"{path}:{name}", archive.read(name))
                        for name in archive.namelist() if not name.endswith("/")]
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise ArtifactError(f"{path} is not a readable {kind} archive ({type(e).__name__}: "
                            f"{e}); build it again with 'flyray package'") from e
    if path.suffix == ".json":
        return [(str(path), data)]
    raise ArtifactError(f"{path} is not a spec file (.json), a package directory or a "
                        "package archive (.tar.gz, .tgz, .zip)")


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member)
    if stream is None:
        raise ArtifactError(f"archive member {member.name} cannot be read")
    return stream.read()


def _is_bundle(data: bytes) -> bool:
    """A code bundle: a zip whose every entry is under ``flyray-code/``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return bool(names) and all(n.startswith(f"{TOP_DIRECTORY}/") for n in names)


def _bundle(data: bytes, where: str) -> Bundle:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            broken = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ArtifactError(f"{where} is not a readable code bundle ({e})") from e
    if broken is not None or not _is_bundle(data):
        raise ArtifactError(f"{where} is not a code bundle (a zip of one '{TOP_DIRECTORY}/' "
                            "directory, as 'flyray package' writes)")
    top = f"{TOP_DIRECTORY}/"
    files = tuple(sorted(n[len(top):] for n in names if n != top and not n.endswith("/")))
    return Bundle(Path(where), data, hashlib.sha256(data).hexdigest(), files)


def parse_spec(document: Any, where: str) -> Step:
    """One spec file's JSON as a registration step; ArtifactError says what is wrong."""
    try:
        ident = Identifier.from_dict(document["id"])
    except (*_MALFORMED, SpecError) as e:
        raise ArtifactError(f"{where} is not a task, workflow or launch plan spec: it has no "
                            "valid 'id' (with resource_type, project, domain, name and "
                            "version)") from e
    label = ident.resource_type.value.replace("_", " ")
    try:
        canonical = _READERS[ident.resource_type](document).to_dict()
    except SpecError as e:
        raise ArtifactError(f"{where}: {e}") from e
    except _MALFORMED as e:
        raise ArtifactError(f"{where} is not a valid {label} spec ({type(e).__name__}: "
                            f"{e})") from e
    differs = json_diff(document, canonical)
    if differs:
        raise ArtifactError(
            f"{where}: this Flyray does not read the {label} spec as written; it differs at "
            f"{', '.join(differs)} (a field this Flyray does not know, or one in another "
            "form); serialize it again with this Flyray")
    return Step(ident.resource_type, document)


def _add(pool: _Pool, where: str, data: bytes) -> None:
    name = where.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if data[:2] == b"PK":
        pool.bundles.append((data, where))
        return
    if not name.endswith(".json"):
        raise ArtifactError(f"{where} is not part of a Flyray package (spec files "
                            "'NNN-<kind>-<name>.json', manifest.json, bundle.zip)")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{where} is not valid JSON: {e}") from e
    if isinstance(document, dict) and "format" in document:
        pool.manifests.append((document, where))
        return
    step = parse_spec(document, where)
    key = (step.kind, step.id.name)
    known = pool.steps.get(key)
    if known is not None and known[0].spec != step.spec:
        raise ArtifactError(f"{known[1]} and {where} are two different specs of "
                            f"{step.kind.value.replace('_', ' ')} '{step.id.name}'")
    pool.steps.setdefault(key, (step, where))


def _manifest(pool: _Pool) -> dict[str, Any] | None:
    distinct = {json.dumps(m, sort_keys=True): (m, w) for m, w in pool.manifests}
    if len(distinct) > 1:
        raise ArtifactError("the files hold several packages' manifests ("
                            f"{', '.join(w for _, w in distinct.values())}); register one "
                            "package at a time")
    if not distinct:
        return None
    manifest, where = next(iter(distinct.values()))
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{where} is not a manifest this Flyray reads (format "
                            f"{manifest.get('format')!r} version "
                            f"{manifest.get('format_version')!r}; expected {FORMAT!r} "
                            f"version {FORMAT_VERSION})")
    for entity in manifest.get("entities") or []:
        try:
            key = (ResourceType(entity["kind"]), entity["name"])
        except _MALFORMED as e:
            raise ArtifactError(f"{where} lists an entity it does not describe as 'kind' "
                                f"and 'name': {entity!r}") from e
        if key not in pool.steps:
            raise ArtifactError(f"{where} lists {entity['kind'].replace('_', ' ')} "
                                f"'{entity['name']}' ({entity['file']}), but no file given "
                                "holds its spec")
    return manifest


def _bundle_of(pool: _Pool, manifest: dict[str, Any] | None) -> Bundle | None:
    bundles = {hashlib.sha256(d).hexdigest(): (d, w) for d, w in pool.bundles}
    if len(bundles) > 1:
        raise ArtifactError("the files hold several code bundles ("
                            f"{', '.join(w for _, w in bundles.values())}); give one")
    bundle = _bundle(*next(iter(bundles.values()))) if bundles else None
    expected = (manifest or {}).get("bundle")
    if expected and bundle is None:
        raise ArtifactError(f"the package's manifest names a code bundle "
                            f"({expected['file']}) that is not among the files given")
    if expected and bundle is not None and bundle.digest != expected["sha256"]:
        raise ArtifactError(f"the code bundle {bundle.root} is not the one the manifest "
                            f"names (sha256 {bundle.digest[:12]}..., expected "
                            f"{expected['sha256'][:12]}...); build the package again")
    return bundle


def read_artifact(paths: list[str]) -> Artifact:
    """What ``paths`` hold, ordered for registration (see the module's docstring).

    Raises ArtifactError naming the file at fault."""
    if not paths:
        raise ArtifactError("give at least one file: a package directory or archive, or "
                            "spec files")
    pool = _Pool({}, [], [])
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise ArtifactError(f"no such file or directory: {given}")
        for where, data in _entries(path):
            _add(pool, where, data)
    if not pool.steps:
        raise ArtifactError(f"no task, workflow or launch plan spec in {', '.join(paths)}")
    manifest = _manifest(pool)
    bundle = _bundle_of(pool, manifest)
    steps = order_steps([step for step, _ in pool.steps.values()])
    versions = {step.id.version for step in steps}
    version = manifest.get("version") if manifest else None
    return Artifact(steps, version or (versions.pop() if len(versions) == 1 else None),
                    bundle)


def order_steps(steps: list[Step]) -> list[Step]:
    """Tasks, then each workflow after the launch plans it calls and before its default
    launch plan (marked: the admin API creates it with the workflow), each launch plan
    after its workflow. Entities named but not given are the admin API's to check."""
    workflows = {s.id.name: s for s in steps if s.kind is ResourceType.WORKFLOW}
    plans = {s.id.name: s for s in steps if s.kind is ResourceType.LAUNCH_PLAN}
    defaults = {name for name, plan in plans.items() if name in workflows and plan.spec
                == default_launch_plan(WorkflowSpec.from_dict(workflows[name].spec)).to_dict()}
    ordered = sorted((s for s in steps if s.kind is ResourceType.TASK), key=lambda s: s.id.name)
    seen: set[tuple[ResourceType, str]] = set()

    def visit(kind: ResourceType, name: str) -> None:
        if kind is ResourceType.LAUNCH_PLAN and name in defaults:
            kind = ResourceType.WORKFLOW  # planned with its workflow
        if (kind, name) in seen:
            return
        seen.add((kind, name))
        if kind is ResourceType.WORKFLOW:
            step = workflows[name]
            for used in step.spec["tasks"].values():
                ident = used["id"]
                if ident["resource_type"] == ResourceType.LAUNCH_PLAN.value \
                        and ident["name"] in plans:
                    visit(ResourceType.LAUNCH_PLAN, ident["name"])
            ordered.append(step)
            if name in defaults:
                ordered.append(replace(plans[name], default_plan=True))
            return
        step = plans[name]
        if step.spec["workflow_id"]["name"] in workflows:
            visit(ResourceType.WORKFLOW, step.spec["workflow_id"]["name"])
        ordered.append(step)

    for name in workflows:
        visit(ResourceType.WORKFLOW, name)
    for name in plans:
        visit(ResourceType.LAUNCH_PLAN, name)
    return ordered
