"""``flyray get executions|workflows|tasks|launchplans [NAME]``: what the admin API holds,
as tables (``-o json``: the API's JSON). Launch plans show their schedule and, for the
active version, its next fire times (UTC) and last execution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.table import Table

from engine.admin_client import AdminClient
from engine.cli import remote
from engine.cli.common import (
    admin_options,
    client,
    console,
    echo_json,
    scope,
    scope_options,
    short_time,
    with_cli_errors,
)
from engine.dag.spec import schedule_from_dict
from engine.errors import ConfigError

_OUTPUT = click.option("--output", "-o", type=click.Choice(["table", "json"]),
                       default="table", show_default=True, help="Output format.")
_LIMIT = click.option("--limit", type=click.IntRange(1, 1000), default=100,
                      show_default=True, help="At most this many items.")


@click.group(help="List or show what the admin API holds: executions, workflows, tasks, "
             "launch plans.")
def get() -> None:
    pass


Context = Callable[[AdminClient, str, str, str | None], dict[str, Any]]
Row = Callable[[dict[str, Any], dict[str, Any]], list[str]]


def _no_context(_admin: AdminClient, _project: str, _domain: str,
                _name: str | None) -> dict[str, Any]:
    return {}


def _listing(kind: str, path: str, key: str, columns: list[str], row: Row,
             context: Context = _no_context) -> click.Command:
    """``flyray get <kind> [NAME]``: every version (newest first), or those of NAME.

    ``context`` fetches what the rows need besides the listing (given to ``row``, and
    added to the JSON output)."""

    @click.argument("name", required=False)
    @scope_options
    @_LIMIT
    @_OUTPUT
    @admin_options
    @with_cli_errors
    def command(name: str | None, project: str | None, domain: str | None, limit: int,
                output: str, endpoint: str | None, token: str | None) -> None:
        project, domain = scope(project, domain)
        suffix = f"/{name}" if name else ""
        admin = client(endpoint, token)
        reply = admin.get(f"/api/v1/{path}/{project}/{domain}{suffix}", limit=limit)
        extra = context(admin, project, domain, name)
        if output == "json":
            echo_json({**reply, **extra})
            return
        items = reply[key]
        table = Table(title=f"{len(items)} {kind} in {project}/{domain}"
                      + (f" named {name}" if name else ""), title_justify="left")
        for column in columns:
            table.add_column(column)
        for item in items:
            table.add_row(*row(item, extra))
        console().print(table)

    return click.command(kind, help=f"List {kind} (newest first); with NAME, the versions "
                         "of that one.")(command)


def _entity_row(item: dict[str, Any], _extra: dict[str, Any]) -> list[str]:
    return [item["id"]["name"], item["id"]["version"], short_time(item["created_at"])]


def _schedules(admin: AdminClient, project: str, domain: str,
               name: str | None) -> dict[str, Any]:
    """The active schedules (of NAME), with their next fire times and last execution."""
    reply = admin.get(f"/api/v1/schedules/{project}/{domain}", name=name, limit=1000)
    return {"schedules": reply["schedules"]}


def _describe(schedule: dict[str, Any] | None) -> str:
    if schedule is None:
        return ""
    try:
        return schedule_from_dict(schedule).describe()
    except ConfigError:  # a newer server's form: show it as it is
        return str(schedule)


def _launch_plan_row(item: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    state = item["state"]
    workflow = item["spec"]["workflow_id"]
    fires = next((s for s in extra.get("schedules", ())
                  if s["launch_plan"]["name"] == item["id"]["name"]
                  and s["launch_plan"]["version"] == item["id"]["version"]), None)
    upcoming = "\n".join(short_time(t) for t in fires["next_fire_times"]) if fires else ""
    last = fires["last_execution"]["name"] if fires and fires["last_execution"] else ""
    return [item["id"]["name"], item["id"]["version"],
            f"[green]{state}" if state == "ACTIVE" else state,
            workflow["name"], _describe(item["spec"].get("schedule")), upcoming, last,
            short_time(item["created_at"])]


get.add_command(_listing("workflows", "workflows", "workflows",
                         ["name", "version", "created (UTC)"], _entity_row))
get.add_command(_listing("tasks", "tasks", "tasks",
                         ["name", "version", "created (UTC)"], _entity_row))
get.add_command(_listing("launchplans", "launch_plans", "launch_plans",
                         ["name", "version", "state", "workflow", "schedule",
                          "next fires (UTC)", "last execution", "created (UTC)"],
                         _launch_plan_row, _schedules))


def _target(execution: dict[str, Any]) -> tuple[str, str]:
    spec = execution["spec"]
    for kind in ("launch_plan", "task", "workflow"):
        if spec.get(kind):
            return spec[kind]["name"], spec[kind]["version"]
    return "", ""


def _execution_row(execution: dict[str, Any]) -> list[str]:
    closure = execution["closure"]
    name, version = _target(execution)
    phase = closure["phase"]
    duration = closure.get("duration_s")
    return [execution["id"]["name"], name, version,
            f"[{remote.PHASE_STYLE.get(phase, '')}]{phase}", short_time(closure["created_at"]),
            f"{duration:.1f}s" if duration is not None else ""]


@get.command(help="List executions (newest first); with NAME, one execution and its nodes.")
@click.argument("name", required=False)
@scope_options
@_LIMIT
@click.option("--phase", multiple=True, type=click.Choice(sorted(remote.TERMINAL |
              {"QUEUED", "RUNNING"})), help="Only executions in this phase (repeatable).")
@click.option("--launch-plan", default=None, help="Only executions of this launch plan.")
@_OUTPUT
@admin_options
@with_cli_errors
def executions(name: str | None, project: str | None, domain: str | None, limit: int,
               phase: tuple[str, ...], launch_plan: str | None, output: str,
               endpoint: str | None, token: str | None) -> None:
    project, domain = scope(project, domain)
    admin = client(endpoint, token)
    if name:
        ref = remote.ExecutionRef(project, domain, name)
        execution = remote.get_execution(admin, ref)
        nodes = remote.node_executions(admin, ref)
        if output == "json":
            echo_json({**execution, "node_executions": nodes})
            return
        out = console()
        out.print(remote.node_table(execution, nodes, execution["closure"].get("duration_s")))
        out.print(f"console: {remote.console_url(admin.endpoint, ref)}", soft_wrap=True)
        if execution["closure"]["phase"] in ("FAILED", "ABORTED", "TIMED_OUT"):
            out.print(remote.failure_message(execution), markup=False, soft_wrap=True)
        return
    reply = admin.get(f"/api/v1/executions/{project}/{domain}", limit=limit,
                      launch_plan=launch_plan, phase=list(phase) or None)
    if output == "json":
        echo_json(reply)
        return
    items = reply["executions"]
    table = Table(title=f"{len(items)} executions in {project}/{domain}",
                  title_justify="left")
    for column in ("name", "launch plan / task", "version", "phase", "created (UTC)",
                   "duration"):
        table.add_column(column)
    for execution in items:
        table.add_row(*_execution_row(execution))
    console().print(table)
