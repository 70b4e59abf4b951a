"""Signals from Python and the command line: ``FlyteRemote.set_signal``/``list_signals``
and ``flyray signal set|list`` against the admin API on Serve."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.remote import FlyteRemote
from tests.engine.remote.conftest import Admin
from tests.fixtures import gate_wfs

pytestmark = pytest.mark.timeout(240)


def wait_for_gate(remote: FlyteRemote, name: str, signal_id: str) -> None:
    deadline = time.monotonic() + 120
    while not any(s.signal_id == signal_id and s.phase == "WAITING"
                  for s in remote.list_signals(name)):
        assert time.monotonic() < deadline, f"gate {signal_id} of {name} never waited"
        time.sleep(0.2)


def test_signals_set_from_the_cli_and_from_python_let_the_execution_finish(
        remote: FlyteRemote, admin: Admin) -> None:
    execution = remote.execute(gate_wfs.input_then_approval, {})
    name = execution.id.name
    scope = ["--endpoint", admin.endpoint, "-p", remote.default_project,
             "-d", remote.default_domain]
    wait_for_gate(remote, name, "count")
    listed = CliRunner().invoke(cli, ["signal", "list", name, *scope])
    assert listed.exit_code == 0, listed.output
    assert "count" in listed.output and "WAITING" in listed.output
    wrong = CliRunner().invoke(cli, ["signal", "set", name, "count", "many", *scope])
    assert wrong.exit_code != 0 and "not a valid integer" in wrong.output
    done = CliRunner().invoke(cli, ["signal", "set", name, "count", "21", *scope])
    assert done.exit_code == 0, done.output
    assert "set to 21" in done.output
    wait_for_gate(remote, name, "ok")
    approval = remote.set_signal("ok", name, True)
    assert approval.is_set and approval.value is True
    finished = remote.wait(execution, timeout=120, poll_interval=0.2)
    assert finished.is_successful, finished.error
    assert finished.outputs["o0"] == 84
