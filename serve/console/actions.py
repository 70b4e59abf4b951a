"""The console's actions: launch, relaunch, recover, terminate, and activate or
deactivate a launch plan version.

Each is a form POST checked against cross-site requests (``check_csrf``) under the
session of every console route, and calls the execution service or the store exactly as
the API's route of the same action does. Success redirects (303) to the page showing the
result; a refusal is shown as a page (the launch form again, with everything typed kept
and the error next to it), never as the API's JSON.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.dag.spec import Identifier, ResourceType
from serve.api.deps import Executions, Store
from serve.api.execution_schemas import TerminateRequest
from serve.console import launch
from serve.console.auth import check_csrf
from serve.console.page_errors import error_page, status_of
from serve.control.executions import ExecutionService
from serve.errors import AdminError, InvalidArgumentError
from serve.store import AdminStore
from serve.store.execution_records import ExecutionId, ExecutionRequest
from serve.store.records import LaunchPlanState

router = APIRouter(dependencies=[Depends(check_csrf)])

_EXECUTION = "/projects/{project}/domains/{domain}/executions/{name}"
_PLAN_VERSION = "/projects/{project}/domains/{domain}/launch_plan/{name}/version/{version}"
Flag = Annotated[str, Form(max_length=8)]


def execution_url(ident: ExecutionId) -> str:
    """The console page of an execution."""
    p, d, n = (quote(part, safe="") for part in (ident.project, ident.domain, ident.name))
    return f"/console/projects/{p}/domains/{d}/executions/{n}"


def launch_plan_url(ident: Identifier) -> str:
    """The console page of a launch plan version."""
    p, d, n, v = (quote(part, safe="") for part in (ident.project, ident.domain, ident.name,
                                                    ident.version))
    return f"/console/projects/{p}/domains/{d}/launch_plan/{n}/version/{v}"


def _to(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


@router.post(launch.FORM)
async def launch_execution(request: Request, project: str, domain: str, kind: str,
                           name: str, store: Store, executions: Executions) -> Response:
    """Launch from the form: its values checked as the API checks them, then created by
    the execution service; a refusal shows the form again with the error."""
    form = await request.form()
    version = str(form.get("version") or "") or None
    overwrite = bool(form.get("overwrite_cache"))
    labels_text = str(form.get("labels", ""))
    source = str(form.get("from") or "") or None
    root = launch.blob_root(request)

    def run() -> Response:
        try:
            target = launch.load_target(store, kind, project, domain, name, version, root)
        except AdminError as e:
            return error_page(request, e, "launch")
        fields, checked = launch.read_form(target, form)
        if checked.valid:
            checked.form_error, url = _create(executions, target, checked, overwrite,
                                              labels_text)
            if url is not None:
                return _to(url)
        return launch.render_form(request, target, fields, checked, status_code=400,
                                  overwrite_cache=overwrite, labels=labels_text,
                                  source=source)

    return await run_in_threadpool(run)


def _create(executions: ExecutionService, target: launch.Target, checked: launch.Checked,
            overwrite: bool, labels_text: str) -> tuple[str | None, str | None]:
    """Create the execution: (None, its page) or (the refusal, None)."""
    ident = target.id
    try:
        labels = launch.parse_labels(labels_text)
        execution, _ = executions.create(ExecutionRequest(
            ident.project, ident.domain, None, target.target_kind, ident.name, ident.version,
            checked.values, overwrite, None, labels))
    except AdminError as e:
        return (str(e) if isinstance(e, InvalidArgumentError)
                else f"{e.kind} ({status_of(e)}): {e}"), None
    return None, execution_url(execution.id)


@router.post(_EXECUTION + "/relaunch")
def relaunch(request: Request, project: str, domain: str, name: str,
             executions: Executions, overwrite_cache: Flag = "") -> Response:
    """Run the execution again: same versions, same inputs (mode RELAUNCH)."""
    try:
        execution, _ = executions.relaunch(ExecutionId(project, domain, name), None,
                                           True if overwrite_cache else None)
    except AdminError as e:
        return error_page(request, e, f"relaunch execution {name}")
    return _to(execution_url(execution.id))


@router.post(_EXECUTION + "/recover")
def recover(request: Request, project: str, domain: str, name: str,
            executions: Executions) -> Response:
    """Run the ended execution again, reusing its succeeded nodes' outputs."""
    try:
        execution, _ = executions.recover(ExecutionId(project, domain, name), None)
    except AdminError as e:
        return error_page(request, e, f"recover execution {name}")
    return _to(execution_url(execution.id))


@router.post(_EXECUTION + "/terminate")
def terminate(request: Request, project: str, domain: str, name: str,
              executions: Executions,
              cause: Annotated[str, Form(max_length=10_000)] = "") -> Response:
    """Stop the execution: ABORTED with the cause, running work cancelled."""
    ident = ExecutionId(project, domain, name)
    try:
        executions.terminate(ident, cause.strip() or TerminateRequest().cause)
    except AdminError as e:
        return error_page(request, e, f"terminate execution {name}")
    return _to(execution_url(ident))


@router.post(_PLAN_VERSION + "/activate")
def activate(request: Request, project: str, domain: str, name: str, version: str,
             store: Store) -> Response:
    """Make this version the name's ACTIVE one (its schedule fires; others stop)."""
    return _set_state(request, store, Identifier(ResourceType.LAUNCH_PLAN, project, domain,
                                                 name, version), LaunchPlanState.ACTIVE)


@router.post(_PLAN_VERSION + "/deactivate")
def deactivate(request: Request, project: str, domain: str, name: str, version: str,
               store: Store) -> Response:
    """Make this version INACTIVE (its schedule stops firing)."""
    return _set_state(request, store, Identifier(ResourceType.LAUNCH_PLAN, project, domain,
                                                 name, version), LaunchPlanState.INACTIVE)


def _set_state(request: Request, store: AdminStore, ident: Identifier,
               state: LaunchPlanState) -> Response:
    try:
        store.set_launch_plan_state(ident, state)
    except AdminError as e:
        return error_page(request, e, f"set launch plan {ident.name} version "
                                      f"{ident.version} {state.value}")
    return _to(launch_plan_url(ident))
