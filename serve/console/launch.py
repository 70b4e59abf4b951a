"""The launch form: one input per input of the typed interface, checked on the server by
the same functions that check ``POST /api/v1/executions``.

A form carries text; :func:`read_form` turns each field's text into the JSON literal the
API takes (a number, a string, a boolean, an enum value, JSON for lists, dicts and
dataclasses, a URI for files and dataframes) and reports text that is not of its form
(not a number, not JSON). Whether a literal fits its input is decided by the store's own
checks (``check_input_values``, ``check_input_uris``, then the whole launch's input
resolution), never re-implemented here. Field names are ``in.<input>`` (and
``none.<input>`` for the None toggle of an optional input), so an input may be called
anything, ``csrf`` included.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from engine.dag.spec import Identifier, Interface, LaunchPlanSpec, ResourceType, WorkflowSpec
from engine.types.literal import NONE, Kind, LiteralType, Simple
from serve.api.deps import Store
from serve.console.auth import check_csrf
from serve.console.page_errors import error_page
from serve.errors import AdminError, InvalidArgumentError, NotFoundError
from serve.store import AdminStore, ListOptions
from serve.store.execution_records import ExecutionId, TargetKind
from serve.store.inputs import check_input_uris, resolve_task_inputs
from serve.store.specs import check_input_values, has_pickle

router = APIRouter()

KINDS = {"workflow": ResourceType.WORKFLOW, "task": ResourceType.TASK,
         "launch_plan": ResourceType.LAUNCH_PLAN}
# Where the store's checks are told they run; stripped from their messages, which an
# inline error shows next to its field.
_WHERE = "inputs"
_SIMPLE_WIDGETS = {Simple.INTEGER: "int", Simple.FLOAT: "float", Simple.STRING: "text",
                   Simple.BINARY: "text", Simple.BOOLEAN: "checkbox",
                   Simple.DATETIME: "datetime", Simple.DURATION: "duration",
                   Simple.NONE: "none"}
_KIND_WIDGETS = {Kind.ENUM: "select", Kind.LIST: "json", Kind.MAP: "json",
                 Kind.RECORD: "json", Kind.UNION: "json", Kind.BLOB: "uri",
                 Kind.DATAFRAME: "uri", Kind.PICKLE: "unsupported"}


@dataclass(frozen=True)
class Target:
    """What a form launches: a version of a launch plan, workflow or task, its inputs'
    interface, the values it falls back on and those it fixes."""

    kind: str  # workflow | task | launch_plan
    id: Identifier
    interface: Interface
    defaults: dict[str, Any]  # input -> JSON literal (the plan's over the interface's)
    fixed: dict[str, Any]  # input -> JSON literal, never given at launch
    workflow: Identifier | None  # the workflow a launch plan runs
    blob_root: str | None  # the server's blob store: file and dataframe URIs lie in it

    @property
    def target_kind(self) -> TargetKind:
        return TargetKind(self.kind)


@dataclass(frozen=True)
class Field:
    """One input of the form: how it is entered and what it holds now."""

    name: str
    type: LiteralType
    widget: str  # int float text checkbox select datetime duration json uri none unsupported
    optional: bool  # Optional[T]: it has a None toggle
    text: str = ""  # the value as the form shows it
    is_none: bool = False
    fixed: bool = False
    has_default: bool = False
    error: str | None = None

    @property
    def options(self) -> tuple[str, ...]:
        inner = _inner(self.type)
        return inner.values if inner.kind is Kind.ENUM else ()

    @property
    def checked(self) -> bool:
        return self.text == "true"


@dataclass
class Checked:
    """A form read and checked: the literals of its fields (absent: not given), the
    errors by input name, and an error of the whole launch."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    form_error: str | None = None

    @property
    def valid(self) -> bool:
        return not self.errors and self.form_error is None


def _inner(t: LiteralType) -> LiteralType:
    """T of Optional[T]; ``t`` itself otherwise."""
    others = [v for v in t.variants if v != NONE]
    if t.kind is Kind.UNION and len(t.variants) == 2 and len(others) == 1:
        return others[0]
    return t


def _widget(t: LiteralType) -> str:
    if has_pickle(t):
        return "unsupported"
    if t.kind is Kind.SIMPLE and t.simple is not None:
        return _SIMPLE_WIDGETS[t.simple]
    return _KIND_WIDGETS[t.kind]


def to_text(value: Any, t: LiteralType) -> tuple[str, bool]:
    """A JSON literal of type ``t`` as the form shows it, and whether it is None."""
    inner = _inner(t)
    if inner is not t:
        if value is None:
            return "", True
        if isinstance(value, dict) and value.keys() == {"variant", "value"}:
            value = value["value"]
    widget = _widget(inner)
    if widget == "checkbox":
        return ("true" if value else "false"), False
    if widget == "uri" and inner.kind is Kind.DATAFRAME and isinstance(value, dict):
        return str(value.get("uri", "")), False
    if isinstance(value, str) and widget in ("text", "select", "datetime", "uri"):
        return value, False
    return json.dumps(value, ensure_ascii=False), False


def fields_of(target: Target, values: dict[str, Any]) -> list[Field]:
    """The form's fields showing ``values`` (input -> literal), else the defaults."""
    fields = []
    for var in target.interface.inputs:
        inner = _inner(var.type)
        fixed = var.name in target.fixed
        source = target.fixed if fixed else values if var.name in values else target.defaults
        text, is_none = to_text(source[var.name], var.type) if var.name in source else ("",
                                                                                       False)
        fields.append(Field(var.name, var.type, _widget(inner), inner is not var.type, text,
                            is_none, fixed, var.name in target.defaults))
    return fields


def read_form(target: Target, form: FormData) -> tuple[list[Field], Checked]:
    """The fields as the form sent them, and their literals checked one by one."""
    checked = Checked()
    fields = []
    for shown in fields_of(target, {}):
        if shown.fixed:
            fields.append(shown)
            continue
        text = str(form.get(f"in.{shown.name}", ""))
        if shown.widget == "checkbox":
            text = "true" if text else "false"
        sent = replace(shown, text=text,
                       is_none=shown.optional and bool(form.get(f"none.{shown.name}")))
        try:
            given, value = _literal(sent)
            if given:
                _check_value(target, sent.name, value)
                checked.values[sent.name] = value
            elif not sent.has_default:
                raise InvalidArgumentError("a value is required")
        except InvalidArgumentError as e:
            checked.errors[sent.name] = str(e)
            sent = replace(sent, error=str(e))
        fields.append(sent)
    return fields, checked


def _literal(f: Field) -> tuple[bool, Any]:
    """Whether the field gives a value, and the value as a JSON literal."""
    if f.is_none or f.widget == "none":
        return True, None
    if f.widget == "checkbox":
        return True, f.text == "true"
    if f.widget == "text":
        return True, f.text
    if f.widget == "unsupported":
        raise InvalidArgumentError(f"values of {f.type} are pickled Python objects, which "
                                   "the API does not take; launch it from Python instead")
    text = f.text.strip()
    if not text:
        return False, None
    if f.widget in ("select", "uri"):
        return True, {"uri": text} if _inner(f.type).kind is Kind.DATAFRAME else text
    if f.widget == "datetime":
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidArgumentError(f"{text[:40]!r} is not an ISO 8601 date-time such as "
                                       "2026-01-31T12:00:00+00:00") from None
        return True, text
    number = f.widget in ("int", "float", "duration")
    try:
        value = json.loads(text)
    except ValueError as e:
        raise InvalidArgumentError(f"{text[:40]!r} is not a number" if number
                                   else f"not JSON ({e})") from None
    if number and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidArgumentError(f"{text[:40]!r} is not a number")
    return True, value


def _check_value(target: Target, name: str, value: Any) -> None:
    """The store's checks of one input value, as a launch through the API runs them."""
    try:
        check_input_values({name: value}, target.interface, _WHERE)
        check_input_uris({name: value}, target.interface, target.blob_root, _WHERE)
    except InvalidArgumentError as e:
        raise InvalidArgumentError(str(e).removeprefix(f"{_WHERE}: ")) from None


# --- what a form launches --------------------------------------------------------------


def load_target(store: AdminStore, kind: str, project: str, domain: str, name: str,
                version: str | None, blob_root: str | None) -> Target:
    """The version of ``name`` a form launches (``version`` None: the latest
    registered); NotFoundError when it is not registered."""
    if kind not in KINDS:
        raise NotFoundError(f"cannot launch a {kind!r}: launch a workflow, a task or a "
                            "launch_plan")
    resource = KINDS[kind]
    if version is None:
        page = store.list_entities(resource, project, domain, ListOptions(limit=1, name=name))
        if not page.items:
            raise NotFoundError(f"{kind.replace('_', ' ')} {project}/{domain}/{name} is not "
                                "registered")
        version = page.items[0].id.version
    if resource is ResourceType.TASK:
        task = store.get(Identifier(resource, project, domain, name, version))
        interface = Interface.from_dict(task.spec["interface"])
        defaults = {v.name: v.default for v in interface.inputs if v.has_default}
        return Target(kind, task.id, interface, defaults, {}, None, blob_root)
    # A workflow launches as its default launch plan (same name and version).
    plan = LaunchPlanSpec.from_dict(store.get(Identifier(
        ResourceType.LAUNCH_PLAN, project, domain, name, version)).spec)
    workflow = WorkflowSpec.from_dict(store.get(plan.workflow_id).spec)
    interface = workflow.interface
    defaults = {v.name: v.default for v in interface.inputs if v.has_default}
    ident = workflow.id if resource is ResourceType.WORKFLOW else plan.id
    return Target(kind, ident, interface, {**defaults, **plan.default_inputs},
                  dict(plan.fixed_inputs), workflow.id, blob_root)


def check_launch(store: AdminStore, target: Target, checked: Checked) -> None:
    """Resolve the launch's inputs as creating the execution does (defaults, fixed
    inputs, required ones, types and URIs); its refusal is the form's error."""
    if not checked.valid:
        return
    try:
        if target.kind == "task":
            where = f"{_WHERE} of {target.id.name}"
            inputs = resolve_task_inputs(target.interface, checked.values, where)
            check_input_uris(inputs, target.interface, target.blob_root, where)
        else:
            plan = replace(target.id, resource_type=ResourceType.LAUNCH_PLAN)
            store.resolve_launch_inputs(plan, checked.values)
    except InvalidArgumentError as e:
        checked.form_error = str(e)


def parse_labels(text: str) -> dict[str, str]:
    """Labels typed one per line as ``key: value`` (or ``key=value``); the store checks
    the keys and values themselves."""
    labels = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":") if ":" in line else line.partition("=")
        if not sep:
            raise InvalidArgumentError(f"labels, line {number}: {line.strip()[:60]!r} is not "
                                       "'key: value'")
        labels[key.strip()] = value.strip()
    return labels


# --- routes ----------------------------------------------------------------------------

FORM = "/projects/{project}/domains/{domain}/launch/{kind}/{name}"
Version = Annotated[str | None, Query(max_length=512)]


def blob_root(request: Request) -> str | None:
    root: str | None = request.app.state.settings.blob_root_uri
    return root


def render_form(request: Request, target: Target, fields: list[Field], checked: Checked,
                *, status_code: int = 200, overwrite_cache: bool = False, labels: str = "",
                source: str | None = None) -> HTMLResponse:
    from serve.console.templating import render

    return render(request, "launch.html", status_code=status_code, target=target,
                  fields=fields, checked=checked, overwrite_cache=overwrite_cache,
                  labels=labels, source=source, project=target.id.project,
                  domain=target.id.domain)


@router.get(FORM, response_class=HTMLResponse)
def launch_form(request: Request, project: str, domain: str, kind: str, name: str,
                store: Store, version: Version = None,
                source: Annotated[str | None, Query(alias="from", max_length=512)] = None
                ) -> HTMLResponse:
    """The form, filled with the defaults, or with the inputs of the execution
    ``from`` (relaunch with changes)."""
    try:
        target = load_target(store, kind, project, domain, name, version, blob_root(request))
        values = (store.get_execution(ExecutionId(project, domain, source)).inputs
                  if source else {})
    except AdminError as e:
        return error_page(request, e, "open the launch form")
    fields = fields_of(target, values)
    pairs: list[tuple[str, str | UploadFile]] = []
    form = FormData(pairs + [(f"in.{f.name}", f.text) for f in fields
                     if not (f.widget == "checkbox" and f.text != "true")] +
                    [(f"none.{f.name}", "1") for f in fields if f.is_none])
    fields, checked = read_form(target, form)
    check_launch(store, target, checked)
    # Say what is wrong with a prefilled form, but not "required" before anything is typed.
    fields = [replace(f, error=None) if f.error == "a value is required" else f
              for f in fields]
    return render_form(request, target, fields, checked, source=source)


@router.post(FORM + "/validate", dependencies=[Depends(check_csrf)])
async def validate_form(request: Request, project: str, domain: str, kind: str, name: str,
                        store: Store) -> JSONResponse:
    """The form's fields checked (its script calls this on every change): errors by
    input name, the whole launch's error, and whether Launch may be pressed."""
    form = await request.form()
    version = str(form.get("version") or "") or None
    root = blob_root(request)

    def check() -> Checked:  # the store's queries, off the event loop
        try:
            target = load_target(store, kind, project, domain, name, version, root)
        except AdminError as e:
            return Checked(form_error=str(e))
        checked = read_form(target, form)[1]
        check_launch(store, target, checked)
        return checked

    checked = await run_in_threadpool(check)
    return JSONResponse({"valid": checked.valid, "errors": checked.errors,
                         "form_error": checked.form_error})
