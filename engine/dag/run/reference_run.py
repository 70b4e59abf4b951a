"""A reference node's run: its registered task or launch plan, executed by the admin API.

A node of a ``reference_task`` or ``reference_launch_plan`` runs no code of its own. Its
worker asks the admin API for the registered entity, checks that its interface is the
stub's, launches an execution of it with the node's inputs as JSON literals (files and
dataframes as URIs in the blob store), polls it until it ends and returns its outputs as
Python values. The execution is recorded as the node's child execution.

The endpoint and token travel with the node (:class:`NodeServices`), from the settings of
the process that drives the workflow: workers of a long-lived cluster need none of their
own, and a remote execution's nodes use the admin API that runs the execution.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from engine.admin_client import AdminClient, AdminRequestError, AdminUnreachableError
from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.literals import load_value
from engine.config import load_settings
from engine.dag.run.context import current_node
from engine.dag.run.worker import attempt_prefix, report_children
from engine.dag.spec import Identifier, Interface, ResourceType, Variable
from engine.errors import ChildExecutionError, ErrorKind, FlyrayError, ReferenceEntityError
from engine.types.interface import PythonInterface, to_spec_interface
from engine.types.literal import is_assignable
from engine.types.type_engine import DataContext, TypeEngine

log = logging.getLogger(__name__)

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
# Polling: soon at first (most referenced tasks are short), then every few seconds.
FIRST_POLL_S = 0.1
MAX_POLL_S = 2.0
# How long polling rides out an admin API that stopped answering (a restart, say).
UNREACHABLE_GRACE_S = 30.0
# How long stopping the child may take when the node is stopped (its timeout): the
# worker is killed a few seconds after the timeout (worker.TIMEOUT_GRACE_S).
TERMINATE_TIMEOUT_S = 2.0
_PLURAL = {ResourceType.TASK: "tasks", ResourceType.LAUNCH_PLAN: "launch_plans",
           ResourceType.WORKFLOW: "workflows"}


def describe(ident: Identifier) -> str:
    """``task 'name' (project/domain, version v)``."""
    kind = ident.resource_type.value.replace("_", " ")
    return f"{kind} '{ident.name}' ({ident.project}/{ident.domain}, version {ident.version})"


def run_reference(ident: Identifier, interface: PythonInterface,
                  inputs: dict[str, Any]) -> list[Any]:
    """Execute the registered entity ``ident`` with ``inputs``; its outputs in order.

    Raises:
        ReferenceEntityError: not registered, another interface, no admin API, or the
            launch was refused.
        ChildExecutionError: the execution ended without success.
    """
    what = describe(ident)
    admin, blobs, prefix, name = _context(ident)
    try:
        registered = registered_interface(admin, ident, what)
        check_interface(to_spec_interface(interface, f"the stub of {what}"), registered,
                        ident, what)
        ctx = DataContext(blobs, prefix)
        literals = {n: TypeEngine.to_json(v, interface.inputs[n], ctx)
                    for n, v in inputs.items()}
        path = _launch(admin, ident, literals, name, what)
        report_children([], execution=name)
        try:
            execution = _wait(admin, path, what)
        except FlyrayError:
            raise
        except BaseException:  # the node was stopped (its timeout, Ctrl-C): so is the child
            _terminate(admin, path, what)
            raise
        if execution["closure"]["phase"] != "SUCCEEDED":
            raise _failure(execution, path, name, what)
        return _outputs(admin, path, interface, blobs, what)
    except AdminUnreachableError as e:
        raise ReferenceEntityError(
            f"{what} is a reference to a registered entity; running it needs the admin API "
            f"where it is registered: {e}", ErrorKind.SYSTEM) from None


def _context(ident: Identifier) -> tuple[AdminClient, BlobStore, str, str]:
    """The admin client, the blob store, where input files go and the child's name: the
    node's, or this process's settings' outside a node."""
    node = current_node()
    if node is None:
        settings = load_settings()
        blobs = BlobStore(StorageConfig.from_settings(settings))
        name = "r" + uuid.uuid4().hex[:19]
        return (AdminClient(settings.admin_endpoint, settings.admin_token), blobs,
                blobs.uri("raw", "references", name), name)
    params, services = node
    endpoint, token = services.admin_endpoint, services.admin_token
    if not endpoint:
        settings = load_settings()
        endpoint, token = settings.admin_endpoint, settings.admin_token
    # A stable name per attempt of the node: the admin API answers a repeated launch
    # of one name with the execution it started, never a second one.
    key = f"{params.execution_id}/{params.node_id}/{params.attempt_number}/{ident}"
    name = "r" + hashlib.sha256(key.encode()).hexdigest()[:19]
    return (AdminClient(endpoint, token), BlobStore(services.storage),
            attempt_prefix(services, params), name)


def _entity_path(ident: Identifier) -> str:
    return (f"/api/v1/{_PLURAL[ident.resource_type]}/{ident.project}/{ident.domain}/"
            f"{ident.name}/{ident.version}")


def _get_entity(admin: AdminClient, ident: Identifier, what: str) -> dict[str, Any]:
    try:
        entity: dict[str, Any] = admin.get(_entity_path(ident))
    except AdminRequestError as e:
        if e.status == 404:
            kind = ident.resource_type.value.replace("_", " ")
            raise ReferenceEntityError(
                f"{what} is a reference to a registered entity, but the admin API at "
                f"{admin.endpoint} has no {kind} {ident.project}/{ident.domain}/{ident.name} "
                f"at version {ident.version}: it is not registered; register it there "
                "('flyray register' on its package) or correct the reference's project, "
                "domain, name or version") from None
        raise _refused(admin, e, f"reference to {what}: cannot read the registered "
                                 "entity") from None
    return entity


def registered_interface(admin: AdminClient, ident: Identifier, what: str) -> Interface:
    """The interface of the registered entity: a task's, or a launch plan's (its
    workflow's inputs less the fixed ones, the plan's defaults as defaults)."""
    spec = _get_entity(admin, ident, what)["spec"]
    if ident.resource_type is not ResourceType.LAUNCH_PLAN:
        return Interface.from_dict(spec["interface"])
    workflow = Identifier.from_dict(spec["workflow_id"])
    interface = Interface.from_dict(_get_entity(admin, workflow, what)["spec"]["interface"])
    fixed, defaults = spec.get("fixed_inputs") or {}, spec.get("default_inputs") or {}
    inputs = tuple(replace(v, has_default=True, default=defaults[v.name])
                   if v.name in defaults else v
                   for v in interface.inputs if v.name not in fixed)
    return Interface(inputs, interface.outputs)


def check_interface(stub: Interface, registered: Interface, ident: Identifier,
                    what: str) -> None:
    """Raise unless the stub's inputs bind to the registered entity's and its outputs
    take the registered outputs, naming every difference."""
    kind = ident.resource_type.value.replace("_", " ")
    problems = _differences("input", stub.inputs, registered.inputs, kind, inbound=True)
    problems += _differences("output", stub.outputs, registered.outputs, kind, inbound=False)
    if problems:
        raise ReferenceEntityError(
            f"reference to {what}: the stub's interface is not the registered {kind}'s: "
            f"{'; '.join(problems)}; make the stub's signature match the registered one "
            f"(GET {_entity_path(ident)} on the admin API shows it)")


def _differences(label: str, stub: tuple[Variable, ...], registered: tuple[Variable, ...],
                 kind: str, inbound: bool) -> list[str]:
    theirs = {v.name: v for v in registered}
    problems = []
    for v in stub:
        other = theirs.get(v.name)
        if other is None:
            names = ", ".join(theirs) or "none"
            problems.append(f"{label} '{v.name}' ({v.type}) is not an {label} of the "
                            f"registered {kind} (its {label}s: {names})")
        elif not (is_assignable(v.type, other.type) if inbound
                  else is_assignable(other.type, v.type)):
            problems.append(f"{label} '{v.name}' is {v.type} in the stub but {other.type} "
                            f"in the registered {kind}")
    ours = {v.name for v in stub}
    for v in registered:
        if v.name not in ours and not (inbound and v.has_default):
            problems.append(f"{label} '{v.name}' ({v.type}) of the registered {kind} is "
                            "missing from the stub")
    return problems


def _launch(admin: AdminClient, ident: Identifier, literals: dict[str, Any], name: str,
            what: str) -> str:
    """Start the execution; the path of its id."""
    target = "task" if ident.resource_type is ResourceType.TASK else "launch_plan"
    body = {"project": ident.project, "domain": ident.domain, "name": name,
            target: {"name": ident.name, "version": ident.version}, "inputs": literals}
    try:
        admin.post("/api/v1/executions", body)
    except AdminRequestError as e:
        raise _refused(admin, e, f"reference to {what}: the admin API did not launch "
                                 "it") from None
    return f"{ident.project}/{ident.domain}/{name}"


def _wait(admin: AdminClient, path: str, what: str) -> dict[str, Any]:
    """The execution once it has ended: polled, less often as it runs longer."""
    delay, unreachable_since = FIRST_POLL_S, None
    while True:
        try:
            execution: dict[str, Any] = admin.get(f"/api/v1/executions/{path}")
            unreachable_since = None
        except AdminUnreachableError:
            now = time.monotonic()
            unreachable_since = unreachable_since or now
            if now - unreachable_since > UNREACHABLE_GRACE_S:
                raise
        except AdminRequestError as e:
            raise _refused(admin, e, f"reference to {what}: cannot follow its execution "
                                     f"{path}") from None
        else:
            if execution["closure"]["phase"] in TERMINAL:
                return execution
        time.sleep(delay)
        delay = min(delay * 1.5, MAX_POLL_S)


def _terminate(admin: AdminClient, path: str, what: str) -> None:
    quick = AdminClient(admin.endpoint, admin.token, timeout=TERMINATE_TIMEOUT_S)
    try:
        quick.delete(f"/api/v1/executions/{path}",
                     {"cause": f"the node of {what} that launched it was stopped"})
    except (AdminUnreachableError, AdminRequestError) as e:
        log.warning("%s: could not terminate its execution %s: %s", what, path, e)


def _failure(execution: dict[str, Any], path: str, name: str,
             what: str) -> ChildExecutionError:
    closure = execution["closure"]
    phase = closure["phase"]
    error = closure.get("error") or {}
    kind = ErrorKind.SYSTEM if error.get("kind") == ErrorKind.SYSTEM.value else ErrorKind.USER
    detail = error.get("message") or closure.get("abort_cause") or "no error was recorded"
    return ChildExecutionError(
        f"reference to {what}: its execution {path} ended {phase} with a {kind.value} "
        f"error:\n{detail}",
        kind, name, phase)


def _outputs(admin: AdminClient, path: str, interface: PythonInterface, blobs: BlobStore,
             what: str) -> list[Any]:
    """The execution's outputs as Python values: inline JSON, or offloaded to the blob
    store (listed in ``offloaded``)."""
    try:
        data = admin.get(f"/api/v1/data/executions/{path}")
    except AdminRequestError as e:
        raise _refused(admin, e, f"reference to {what}: cannot read the outputs of "
                                 f"{path}") from None
    literals = data.get("outputs") or {}
    offloaded = set(data.get("offloaded") or ())
    ctx = DataContext(blobs, blobs.uri("tmp"))
    values = []
    for name, python_type in interface.outputs.items():
        if name not in literals:
            raise ReferenceEntityError(f"reference to {what}: its execution {path} has no "
                                       f"output '{name}'", ErrorKind.SYSTEM)
        value = literals[name]
        if f"outputs.{name}" in offloaded:
            values.append(load_value(value, python_type, blobs))
        else:
            values.append(TypeEngine.from_json(value, python_type, ctx))
    return values


def _refused(admin: AdminClient, error: AdminRequestError, doing: str) -> ReferenceEntityError:
    """An error answer: the server's own failures are SYSTEM, refusals USER."""
    kind = ErrorKind.SYSTEM if error.status >= 500 else ErrorKind.USER
    return ReferenceEntityError(f"{doing}: {admin.endpoint} answered {error.status} "
                                f"{error.kind}: {error.message}", kind)
