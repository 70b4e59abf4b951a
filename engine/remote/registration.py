"""Fast registration: the specs of a package, under one version, sent to the admin API.

:func:`plan_registration` serializes what :mod:`engine.remote.packages` found into the
order the admin API accepts them (tasks, then workflows, each after the launch plans it
calls, then launch plans); :func:`with_version` moves every identifier to one project,
domain and version, consistently (the tasks inside workflow specs and the workflow of
each launch plan included); :func:`register` posts them with the bundle's ``code_uri``.
:func:`fast_register` (a package, as ``flyray register PATH``) and :func:`register_found`
(what ``FlyteRemote.register_script`` found) do all of it: bundle, upload, register.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.admin_client import AdminClient, AdminRequestError
from engine.catalog.blob import BlobStore
from engine.config import load_settings
from engine.core.launch_plan import LaunchPlan
from engine.dag.spec import (
    Identifier,
    LaunchPlanSpec,
    ResourceType,
    TaskSpec,
    WorkflowSpec,
    default_launch_plan,
)
from engine.dag.spec.launch_plan import with_registration_defaults
from engine.dag.validate import validate_workflow
from engine.dag.versioning import Scope, moved_identifier, moved_task, moved_workflow
from engine.errors import FlyrayError
from engine.remote.bundle import Bundle, build_bundle, upload_bundle
from engine.remote.packages import Found, LoadError, find_entities, load_package

ENTITY_PATHS = {ResourceType.TASK: "/api/v1/tasks", ResourceType.WORKFLOW: "/api/v1/workflows",
          ResourceType.LAUNCH_PLAN: "/api/v1/launch_plans"}


@dataclass(frozen=True)
class Step:
    """One registration call: an entity's spec in its JSON form.

    ``default_plan`` marks a workflow's default launch plan: the admin API creates it
    with the workflow, so it is shown but never posted.
    """

    kind: ResourceType
    spec: dict[str, Any]
    default_plan: bool = False

    @property
    def id(self) -> Identifier:
        return Identifier.from_dict(self.spec["id"])

    @property
    def label(self) -> str:
        """The kind as tables show it: ``launch plan (default)``, ``task``, ..."""
        return self.kind.value.replace("_", " ") + (" (default)" if self.default_plan else "")


@dataclass(frozen=True)
class Outcome:
    """What registering one step did: ``new``, ``unchanged`` (registered before)."""

    step: Step
    status: str


class _Planner:
    """Orders the steps: a launch plan's workflow before it, before the workflows that
    call it; every task before any workflow."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskSpec] = {}
        self.workflows: dict[str, WorkflowSpec] = {}
        self.later: list[Step] = []  # workflows and launch plans, in registration order
        self.planned: set[tuple[ResourceType, str]] = set()

    def task(self, spec: TaskSpec) -> None:
        if spec.reference is not None:
            return  # a stub of an entity registered elsewhere: the admin checks it is
        known = self.tasks.get(spec.id.name)
        if known is not None and known.to_dict() != spec.to_dict():
            raise LoadError(f"two different tasks are named '{spec.id.name}' (in modules "
                            f"{known.module} and {spec.module}); give one another name")
        self.tasks[spec.id.name] = spec

    def workflow(self, workflow: Any) -> WorkflowSpec:
        spec: WorkflowSpec = workflow.compile().spec
        key = (ResourceType.WORKFLOW, spec.id.name)
        if key in self.planned:
            if self.workflows[spec.id.name].to_dict() != spec.to_dict():
                raise LoadError(f"two different workflows are named '{spec.id.name}'; "
                                "give one another name")
            return spec
        self.planned.add(key)
        self.workflows[spec.id.name] = spec
        for used in spec.tasks.values():
            if used.id.resource_type is ResourceType.TASK:
                self.task(used)
            elif used.id.resource_type is ResourceType.LAUNCH_PLAN:
                plan = LaunchPlan._known.get(used.id.name)
                if plan is None:
                    raise LoadError(f"workflow '{spec.id.name}' calls launch plan "
                                    f"'{used.id.name}', which this process does not know")
                self.launch_plan(plan)
        self.later.append(Step(ResourceType.WORKFLOW, spec.to_dict()))
        self.later.append(Step(ResourceType.LAUNCH_PLAN, default_launch_plan(spec).to_dict(),
                               default_plan=True))
        return spec

    def launch_plan(self, plan: LaunchPlan) -> None:
        workflow = self.workflow(plan.workflow)
        key = (ResourceType.LAUNCH_PLAN, plan.name)
        spec = plan.to_spec()
        # The workflow's default launch plan was planned with it (and is never posted).
        if spec == default_launch_plan(workflow) or key in self.planned:
            return
        self.planned.add(key)
        self.later.append(Step(ResourceType.LAUNCH_PLAN, spec.to_dict()))


def plan_registration(found: Found) -> list[Step]:
    """The steps that register everything in ``found``, in an order the API accepts."""
    planner = _Planner()
    for task in found.tasks.values():
        planner.task(task.spec())
    for workflow in found.workflows.values():
        planner.workflow(workflow)
    for plan in found.launch_plans.values():
        planner.launch_plan(plan)
    tasks = [Step(ResourceType.TASK, planner.tasks[name].to_dict())
             for name in sorted(planner.tasks)]
    return tasks + planner.later


def content_version(steps: list[Step], bundle: Bundle | None) -> str:
    """The default version: a hash of the code bundle (if any) and of every spec."""
    digest = hashlib.sha256(bundle.digest.encode() if bundle is not None else b"")
    for step in steps:
        digest.update(json.dumps([step.kind.value, step.spec], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def with_version(steps: list[Step], project: str, domain: str, version: str) -> list[Step]:
    """The steps with every identifier in ``project``/``domain`` at ``version``: the
    entities', the tasks and launch plans inside workflow specs, launch plans' workflows.

    Every registered entity moves together, so the references between them still
    point at what this registration registers. Moved workflows are validated again.
    """
    scope = Scope(project, domain, version)
    moved: list[Step] = []
    for step in steps:
        if step.kind is ResourceType.TASK:
            spec = moved_task(TaskSpec.from_dict(step.spec), scope).to_dict()
        elif step.kind is ResourceType.WORKFLOW:
            workflow = moved_workflow(WorkflowSpec.from_dict(step.spec), scope)
            validate_workflow(workflow)
            spec = workflow.to_dict()
        else:
            plan = LaunchPlanSpec.from_dict(step.spec)
            spec = replace(plan, id=moved_identifier(plan.id, scope),
                           workflow_id=moved_identifier(plan.workflow_id, scope)).to_dict()
        moved.append(replace(step, spec=spec))
    return moved


def register(client: AdminClient, steps: list[Step], code_uri: str | None) -> Iterator[Outcome]:
    """Post each step in order, yielding what it did; AdminRequestError stops at the first
    refusal (what was registered before it stays registered: entities are immutable)."""
    workflow_status: dict[str, str] = {}
    for step in steps:
        if step.default_plan:
            yield Outcome(step, workflow_status.get(step.id.name, "unchanged"))
            continue
        body = {"id": step.spec["id"], "spec": step.spec, "code_uri": code_uri}
        reply = client.post(ENTITY_PATHS[step.kind], body)
        status = "new" if reply.status == 201 else "unchanged"
        if step.kind is ResourceType.WORKFLOW:
            workflow_status[step.id.name] = status
        yield Outcome(step, status)


def _installed(module: str) -> bool:
    """Flyray's own modules, and modules installed in this Python (the standard library,
    site-packages): a cluster running the same environment has them."""
    if module.split(".", maxsplit=1)[0] in ("engine", "serve"):
        return True
    where = getattr(sys.modules.get(module), "__file__", None)
    if not where:
        return module in sys.builtin_module_names
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    resolved = Path(where).resolve()
    return any(resolved.is_relative_to(p) for p in prefixes)


def modules_outside(steps: list[Step], bundle: Bundle) -> list[str]:
    """Modules that tasks run from which neither the bundle holds nor this Python has
    installed: the cluster must provide them.

    Raises LoadError for a task module under the source root that the bundle leaves out.
    """
    files = set(bundle.files)
    missing: list[str] = []
    for step in steps:
        module = step.spec.get("module") if step.kind is ResourceType.TASK else None
        if not module or module in missing:
            continue
        base = module.replace(".", "/")
        if f"{base}.py" in files or f"{base}/__init__.py" in files:
            continue
        loaded = sys.modules.get(module)
        where = Path(getattr(loaded, "__file__", None) or "")
        if where.is_absolute() and where.resolve().is_relative_to(bundle.root):
            raise LoadError(f"task '{step.id.name}' is defined in {where}, which the code "
                            "bundle leaves out (hidden, or ignored by .gitignore or "
                            ".flyrayignore); move it, or bring it back with a '!' line in "
                            ".flyrayignore")
        if not _installed(module):
            missing.append(module)
    return missing


@dataclass(frozen=True)
class Registration:
    """What one fast registration did."""

    found: Found  # empty when registered from files (``flyray register files``)
    bundle: Bundle | None  # None: specs registered without code (``flyray serialize``)
    code_uri: str | None
    project: str
    domain: str
    version: str
    outcomes: list[Outcome]
    # Task modules neither bundled nor installed here: the cluster must provide them.
    outside: list[str]


class RegistrationError(FlyrayError):
    """The admin API refused an entity; ``done`` lists what was registered before it."""

    def __init__(self, refused: Step, cause: AdminRequestError, done: list[Outcome]) -> None:
        ident = refused.id
        super().__init__(
            f"the admin API refused {ident.resource_type.value.replace('_', ' ')} "
            f"'{ident.name}' at version {ident.version} ({cause.status} {cause.kind}): "
            f"{cause.message}")
        self.refused = refused
        self.cause = cause
        self.done = done


def flyray_packages() -> list[Path]:
    """Flyray's own packages: never bundled, the cluster runs its installed Flyray."""
    found: list[Path] = []
    for name in ("engine", "serve"):
        spec = importlib.util.find_spec(name)
        locations = (spec.submodule_search_locations if spec is not None else None) or []
        found += [Path(p).resolve() for p in locations]
    return found


def bundle_excludes() -> list[Path]:
    """What no code bundle holds: Flyray's own packages and the Flyray home."""
    return [*flyray_packages(), load_settings().home]


def package_bundle(path: str | os.PathLike[str]) -> tuple[Found, Bundle]:
    """What :func:`fast_register` would register and upload for the package at ``path``,
    the bundle built but not uploaded: what ``flyray register --dry-run`` shows.

    Raises LoadError (the package does not import), BundleError."""
    package = load_package(path)
    return find_entities(package.modules), build_bundle(package.root, bundle_excludes())


def fast_register(path: str | os.PathLike[str], admin: AdminClient, store: BlobStore,
                  project: str, domain: str, version: str | None,
                  raw_output_prefix: str | None = None) -> Registration:
    """Import the package at ``path``, bundle its source root into the blob store, and
    register everything it defines under one version (default: a content hash), its
    launch plans with ``raw_output_prefix`` where they set none."""
    package = load_package(path)
    found = find_entities(package.modules)
    return register_found(found, package.root, admin, store, project, domain, version,
                          f"{path}", raw_output_prefix)


def register_found(found: Found, root: Path, admin: AdminClient, store: BlobStore,
                   project: str, domain: str, version: str | None,
                   what: str, raw_output_prefix: str | None = None) -> Registration:
    """Register ``found`` (and what it uses) with the source tree at ``root`` bundled, as
    ``flyray register`` does; ``what`` names the source in errors. Flyray's own packages
    and the Flyray home are never bundled; the version does not depend on
    ``raw_output_prefix`` (a registration default, as ``register files`` sets it).

    Raises RegistrationError at the first refusal, BundleError, LoadError, FlyrayError."""
    steps = plan_registration(found)
    if not steps:
        raise FlyrayError(f"{what} defines no task, workflow or launch plan to register")
    bundle = build_bundle(root, bundle_excludes())
    outside = modules_outside(steps, bundle)
    version = version or content_version(steps, bundle)
    steps = with_raw_output_prefix(with_version(steps, project, domain, version),
                                   raw_output_prefix)
    code_uri, done = register_steps(steps, bundle, admin, store)
    return Registration(found, bundle, code_uri, project, domain, version, done, outside)


def with_raw_output_prefix(steps: list[Step], prefix: str | None) -> list[Step]:
    """Every launch plan that sets no raw-output prefix of its own gets ``prefix`` (a
    registration's default; None: the steps as they are).

    A workflow's default launch plan is left as it is: the admin API creates it from the
    workflow, so it can hold no registration default."""
    if prefix is None:
        return steps
    return [replace(step, spec=with_registration_defaults(
                LaunchPlanSpec.from_dict(step.spec), prefix).to_dict())
            if step.kind is ResourceType.LAUNCH_PLAN and not step.default_plan else step
            for step in steps]


def register_steps(steps: list[Step], bundle: Bundle | None, admin: AdminClient,
                   store: BlobStore) -> tuple[str | None, list[Outcome]]:
    """Upload ``bundle`` (if any) and post ``steps`` (already versioned) in order: the
    bundle's URI and what each step did. Shared by ``flyray register`` and ``flyray
    register files``.

    Raises RegistrationError at the first refusal."""
    admin.check()  # before uploading: an unreachable admin is the likelier mistake
    code_uri = upload_bundle(bundle, store) if bundle is not None else None
    done: list[Outcome] = []
    try:
        done.extend(register(admin, steps, code_uri))
    except AdminRequestError as e:  # register() yields one outcome per step, in order
        raise RegistrationError(steps[len(done)], e, done) from e
    return code_uri, done
