"""Gate nodes of remote executions: they wait (phase WAITING) until their signal is set
through ``POST /api/v1/signals``, which checks it against the gate's type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import gate_wfs
from tests.fixtures.remote_wfs import runs
from tests.serve.remote import (
    launch_workflow,
    node_phase,
    nodes,
    outputs,
    path,
    wait_for,
    wait_until,
)
from tests.serve.specs import DOMAIN, PROJECT
from tests.serve.test_execution_liveness import kill_driver

SIGNALS = "/api/v1/signals"

pytestmark = pytest.mark.timeout(120)


def set_signal(client: TestClient, name: str, signal_id: str, value: Any,
               expected: int = 200) -> dict[str, Any]:
    response = client.post(SIGNALS, json={
        "id": {"execution_id": {"project": PROJECT, "domain": DOMAIN, "name": name},
               "signal_id": signal_id},
        "value": value})
    assert response.status_code == expected, response.text
    return dict(response.json())


def launch_waiting(client: TestClient, wf: Any, node_id: str, **inputs: Any) -> str:
    """Launch ``wf`` and return its name once its gate ``node_id`` waits."""
    name = str(launch_workflow(client, wf, inputs=inputs)["id"]["name"])
    wait_until(lambda: node_phase(client, name, node_id) == "WAITING", timeout_s=60,
               what=f"gate {node_id} to wait")
    return name


def test_an_input_waits_for_its_signal_then_the_execution_finishes(remote: TestClient) -> None:
    name = launch_waiting(remote, gate_wfs.input_then_double, "n0")
    [gate] = remote.get(f"{SIGNALS}/{path(name)}").json()["signals"]
    assert gate["signal_id"] == "count" and gate["kind"] == "wait_for_input"
    assert gate["type_name"] == "int" and gate["phase"] == "WAITING"
    assert gate["waiting_since"] is not None and gate["is_set"] is False
    wrong = set_signal(remote, name, "count", "twenty-one", expected=400)
    assert "takes a value of type int" in wrong["error"]["message"]
    unknown = set_signal(remote, name, "nope", 1, expected=404)
    assert "its signals: count" in unknown["error"]["message"]
    assert set_signal(remote, name, "count", 21)["is_set"] is True
    wait_for(remote, name)
    assert outputs(remote, name) == {"o0": 42}
    by_id = nodes(remote, name)
    assert by_id["n0"]["phase"] == "SUCCEEDED" and by_id["n0"]["task"] == "wait_for_input 'count'"
    again = set_signal(remote, name, "count", 22, expected=409)
    assert "set already" in again["error"]["message"]


def test_signals_of_an_unknown_execution_are_not_found(remote_sqlite: TestClient) -> None:
    set_signal(remote_sqlite, "fnosuchexecution", "count", 1, expected=404)
    assert remote_sqlite.get(f"{SIGNALS}/{path('fnosuchexecution')}").status_code == 404


def test_a_rejected_approval_fails_the_node(remote_sqlite: TestClient) -> None:
    name = launch_waiting(remote_sqlite, gate_wfs.approved_double, "n1", x=3)
    set_signal(remote_sqlite, name, "ok", "yes", expected=400)  # an approval is a boolean
    set_signal(remote_sqlite, name, "ok", False)
    done = wait_for(remote_sqlite, name, ("FAILED",))
    assert "approve 'ok' was rejected" in done["closure"]["error"]["message"]
    assert done["closure"]["error"]["kind"] == "USER"
    assert nodes(remote_sqlite, name)["n1"]["phase"] == "FAILED"


def test_an_approval_passes_the_upstream_value(remote_sqlite: TestClient) -> None:
    name = launch_waiting(remote_sqlite, gate_wfs.approved_double, "n1", x=3)
    set_signal(remote_sqlite, name, "ok", True)
    wait_for(remote_sqlite, name)
    assert outputs(remote_sqlite, name) == {"o0": 12}


def test_a_gate_without_its_signal_in_time_times_out(remote_sqlite: TestClient) -> None:
    name = str(launch_workflow(remote_sqlite, gate_wfs.short_timeout)["id"]["name"])
    done = wait_for(remote_sqlite, name, ("FAILED",))
    message = done["closure"]["error"]["message"]
    assert "wait_for_input 'name' got no signal within its timeout of 1 s" in message
    assert nodes(remote_sqlite, name)["n0"]["phase"] == "TIMED_OUT"


def test_a_gate_waits_on_across_a_lost_driver(remote_sqlite: TestClient) -> None:
    name = launch_waiting(remote_sqlite, gate_wfs.input_then_double, "n0")
    [before] = remote_sqlite.get(f"{SIGNALS}/{path(name)}").json()["signals"]
    kill_driver(name)
    set_signal(remote_sqlite, name, "count", 5)  # kept in the database meanwhile
    done = wait_for(remote_sqlite, name, timeout_s=90)
    assert done["closure"]["driver_restarts"] == 1
    assert outputs(remote_sqlite, name) == {"o0": 10}
    [after] = remote_sqlite.get(f"{SIGNALS}/{path(name)}").json()["signals"]
    assert after["waiting_since"] == before["waiting_since"]  # the wait counts from its start


def test_gates_that_passed_are_not_waited_for_again_after_a_lost_driver(
        remote_sqlite: TestClient, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    name = launch_waiting(remote_sqlite, gate_wfs.gated_resumable, "n0",
                          marker_dir=str(markers), seconds=5.0)
    set_signal(remote_sqlite, name, "count", 1)
    wait_until(lambda: node_phase(remote_sqlite, name, "n2") == "WAITING", timeout_s=60,
               what="the approval to wait")
    set_signal(remote_sqlite, name, "ok", True)
    wait_until(lambda: runs(markers, "started") == 1, timeout_s=60, what="the nap to start")
    # Events reach the database in batches: lose the driver once the gates' and the
    # counted nodes' successes are recorded (one not recorded runs again, rightly).
    wait_until(lambda: all(node_phase(remote_sqlite, name, n) == "SUCCEEDED"
                           for n in ("n0", "n1", "n2", "n3", "n4")),
               what="the nodes before the nap to be recorded")
    kill_driver(name)
    done = wait_for(remote_sqlite, name, timeout_s=90)
    assert done["closure"]["driver_restarts"] == 1
    assert outputs(remote_sqlite, name) == {"o0": 4}
    # The resumed driver took the gates with their values and did not wait again; the
    # nodes after them did not run again; the nap the lost driver was running did.
    assert (runs(markers, "a"), runs(markers, "b"), runs(markers, "started")) == (1, 1, 2)
    by_id = nodes(remote_sqlite, name)
    assert [by_id[f"n{i}"]["phase"] for i in range(7)] == ["SUCCEEDED"] * 7
    assert [len(by_id[n]["attempts"]) for n in ("n0", "n2", "n4")] == [1, 1, 1]
