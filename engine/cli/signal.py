"""``flyray signal set EXECUTION NAME VALUE`` and ``flyray signal list EXECUTION``: the
signals that gate nodes (``wait_for_input``, ``approve``) of a remote execution wait for.

VALUE is parsed as ``flyray run`` parses a workflow input of the gate's type (JSON for
lists and dicts); an approval takes true or false (or y/n).
"""

from __future__ import annotations

import json

import click

from engine.cli.common import admin_options, console, scope_options, table, with_cli_errors
from engine.cli.params import param_type
from engine.cli.remote import flyte_remote
from engine.types.guess import guess_python_type
from engine.types.literal import Simple, simple

_BOOL = simple(Simple.BOOLEAN)
_YES_NO = {"y": True, "yes": True, "n": False, "no": False}


@click.group(help="Set or list the signals gate nodes of an execution wait for.")
def signal() -> None:
    pass


@signal.command("set", help="Set signal NAME of execution EXECUTION to VALUE: the gate "
                            "waiting for it goes on.")
@click.argument("execution")
@click.argument("name")
@click.argument("value")
@scope_options
@admin_options
@with_cli_errors
def set_signal(execution: str, name: str, value: str, project: str | None,
               domain: str | None, endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    gate = next((g for g in remote.list_signals(execution) if g.signal_id == name), None)
    if gate is None or gate.type is None:
        raise click.BadParameter(f"execution {execution} has no gate waiting for the signal "
                                 f"{name!r} (see `flyray signal list {execution}`)",
                                 param_hint="NAME")
    python_type = guess_python_type(gate.type)
    if gate.type == _BOOL and value.lower() in _YES_NO:
        parsed: object = _YES_NO[value.lower()]
    else:
        parsed = param_type(python_type).convert(value, None, None)
    result = remote.set_signal(name, execution, parsed, python_type=python_type)
    click.echo(f"signal {name!r} of execution {execution} set to {json.dumps(result.value)}")


@signal.command("list", help="The gates of execution EXECUTION and their signals.")
@click.argument("execution")
@scope_options
@admin_options
@with_cli_errors
def list_signals(execution: str, project: str | None, domain: str | None,
                 endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    shown = table(f"gates of execution {execution}",
                  ("node", "gate", "signal", "type", "phase", "value"))
    for gate in remote.list_signals(execution):
        value = json.dumps(gate.value) if gate.is_set else ""
        shown.add_row(gate.node_id, gate.kind, gate.signal_id,
                      str(gate.type) if gate.type else "", gate.phase, value)
    console().print(shown)
