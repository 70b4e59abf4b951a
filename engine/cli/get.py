"""``flyray get projects|executions|workflows|tasks|launchplans [NAME]``: what the admin
API holds, as tables (``-o json`` or ``-o yaml``: the API's data). Launch plans show their
schedule and, for the active version, its next fire times (UTC) and last execution; one
execution shows its nodes, inputs and outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from engine.cli import remote
from engine.cli.common import (
    admin_options,
    console,
    echo_data,
    output_option,
    plain,
    scope_options,
    short_time,
    table,
    with_cli_errors,
)
from engine.cli.project import projects
from engine.dag.spec import schedule_from_dict
from engine.dag.spec.labels import parse_pairs
from engine.errors import ConfigError, SpecError
from engine.remote import FlyteLaunchPlan, FlyteRemote, FlyteWorkflowExecution

if TYPE_CHECKING:
    from rich.table import Table

# A value longer than this is cut in the table of an execution's inputs and outputs.
_VALUE_WIDTH = 120
_LIMIT = click.option("--limit", type=click.IntRange(1, 1000), default=100,
                      show_default=True, help="At most this many items.")


@click.group(help="List or show what the admin API holds: projects, executions, workflows, "
             "tasks, launch plans.")
def get() -> None:
    pass


get.add_command(projects)


# What the rows need besides the listing (given to ``row``, and added to the JSON output).
Context = Callable[[FlyteRemote, str | None], dict[str, Any]]
Row = Callable[[Any, dict[str, Any]], list[str]]


def _no_context(_remote: FlyteRemote, _name: str | None) -> dict[str, Any]:
    return {}


def _listing(kind: str, key: str, columns: list[str], row: Row,
             context: Context = _no_context) -> click.Command:
    """``flyray get <kind> [NAME]``: every version (newest first), or those of NAME; as
    JSON, ``{key: [...]}`` with each item as the admin API gives it."""

    @click.argument("name", required=False)
    @scope_options
    @_LIMIT
    @output_option
    @admin_options
    @with_cli_errors
    def command(name: str | None, project: str | None, domain: str | None, limit: int,
                output: str, endpoint: str | None, token: str | None) -> None:
        client = remote.flyte_remote(endpoint, token, project, domain)
        items = getattr(client, f"list_{key}")(name=name, limit=limit)
        extra = context(client, name)
        if output != "table":
            echo_data({key: [item.to_json() for item in items], **extra}, output)
            return
        shown = table(f"{len(items)} {kind} in {client.default_project}/"
                      f"{client.default_domain}" + (f" named {name}" if name else ""), columns)
        for item in items:
            shown.add_row(*row(item, extra))
        console().print(shown)

    return click.command(kind, help=f"List {kind} (newest first); with NAME, the versions "
                         "of that one.")(command)


def _entity_row(item: Any, _extra: dict[str, Any]) -> list[str]:
    return [item.name, item.version, short_time(item.closure.created_at)]


def _schedules(client: FlyteRemote, name: str | None) -> dict[str, Any]:
    """The active schedules (of NAME), with their next fire times and last execution."""
    return {"schedules": client.pages("schedules", client.default_project,
                                      client.default_domain, 1000, name=name)}


def _describe(schedule: dict[str, Any] | None) -> str:
    if schedule is None:
        return ""
    try:
        return schedule_from_dict(schedule).describe()
    except ConfigError:  # a newer server's form: show it as it is
        return str(schedule)


def _launch_plan_row(item: FlyteLaunchPlan, extra: dict[str, Any]) -> list[str]:
    state = item.closure.state or ""
    fires = next((s for s in extra.get("schedules", ())
                  if s["launch_plan"]["name"] == item.name
                  and s["launch_plan"]["version"] == item.version), None)
    upcoming = "\n".join(short_time(t) for t in fires["next_fire_times"]) if fires else ""
    last = fires["last_execution"]["name"] if fires and fires["last_execution"] else ""
    return [item.name, item.version, f"[green]{state}" if state == "ACTIVE" else state,
            item.workflow_id.name, _describe(item.to_json()["spec"].get("schedule")),
            upcoming, last, short_time(item.closure.created_at)]


get.add_command(_listing("workflows", "workflows", ["name", "version", "created (UTC)"],
                         _entity_row))
get.add_command(_listing("tasks", "tasks", ["name", "version", "created (UTC)"], _entity_row))
get.add_command(_listing("launchplans", "launch_plans",
                         ["name", "version", "state", "workflow", "schedule",
                          "next fires (UTC)", "last execution", "created (UTC)"],
                         _launch_plan_row, _schedules))


def _execution_row(execution: FlyteWorkflowExecution) -> list[str]:
    closure = execution.closure
    name, version = remote.target_name(execution)
    phase = closure.phase.value
    duration = closure.duration
    labels = " ".join(f"{k}={v}" for k, v in sorted(execution.spec.labels.values.items()))
    return [execution.id.name, name, version,
            f"[{remote.PHASE_STYLE.get(phase, '')}]{phase}", short_time(closure.created_at),
            f"{duration.total_seconds():.1f}s" if duration is not None else "",
            plain(labels)]


def _data(execution: FlyteWorkflowExecution) -> dict[str, dict[str, Any]]:
    """Its inputs and (once it SUCCEEDED) outputs as the admin API stores them: JSON
    values, files and dataframes as URIs, large values as references to the blob store."""
    outputs = execution.outputs.literals if execution.is_successful else {}
    return {"inputs": execution.inputs.literals, "outputs": outputs}


def _data_table(data: dict[str, dict[str, Any]]) -> Table:
    shown = table("inputs and outputs", ("", "name", "value"))
    for label, values in (("input", data["inputs"]), ("output", data["outputs"])):
        for name, value in values.items():
            text = json.dumps(value)
            if len(text) > _VALUE_WIDTH:
                text = text[:_VALUE_WIDTH - 1] + "…"
            shown.add_row(label, name, plain(text))
    return shown


def _show_execution(client: FlyteRemote, name: str, output: str) -> None:
    execution = client.sync(client.fetch_execution(name=name), sync_nodes=True)
    data = _data(execution)
    if output != "table":
        echo_data({**execution.to_json(), **data, "node_executions": [
            n.to_json() for n in execution.node_executions.values()]}, output)
        return
    out = console()
    duration = execution.closure.duration
    out.print(remote.node_table(execution, duration.total_seconds()
                                if duration is not None else None))
    if data["inputs"] or data["outputs"]:
        out.print(_data_table(data))
    out.print(f"console: {client.generate_console_url(execution)}", soft_wrap=True)
    if execution.closure.phase.value in ("FAILED", "ABORTED", "TIMED_OUT"):
        out.print(remote.failure_message(execution), markup=False, soft_wrap=True)


@get.command(help="List executions (newest first); with NAME, one execution: its nodes, "
             "inputs and outputs.")
@click.argument("name", required=False)
@scope_options
@_LIMIT
@click.option("--phase", multiple=True, type=click.Choice(sorted(remote.TERMINAL |
              {"QUEUED", "RUNNING"})), help="Only executions in this phase (repeatable).")
@click.option("--launch-plan", default=None, help="Only executions of this launch plan.")
@click.option("--label", multiple=True, metavar="KEY=VALUE",
              help="Only executions with this label (repeatable: all of them).")
@output_option
@admin_options
@with_cli_errors
def executions(name: str | None, project: str | None, domain: str | None, limit: int,
               phase: tuple[str, ...], launch_plan: str | None, label: tuple[str, ...],
               output: str, endpoint: str | None, token: str | None) -> None:
    client = remote.flyte_remote(endpoint, token, project, domain)
    if name:
        _show_execution(client, name, output)
        return
    try:
        labels = parse_pairs(label, "--label")
    except SpecError as e:
        raise click.UsageError(str(e)) from None
    items = client.recent_executions(limit=limit, launch_plan=launch_plan,
                                     phase=list(phase) or None, labels=labels)
    if output != "table":
        echo_data({"executions": [e.to_json() for e in items]}, output)
        return
    shown = table(f"{len(items)} executions in {client.default_project}/"
                  f"{client.default_domain}", ("name", "launch plan / task", "version",
                                               "phase", "created (UTC)", "duration",
                                               "labels"))
    for execution in items:
        shown.add_row(*_execution_row(execution))
    console().print(shown)
