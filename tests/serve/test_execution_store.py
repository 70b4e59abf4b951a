"""The admin store's executions without Ray: idempotent creation, the driver's claim and
fencing, forward-only idempotent events, terminate, launch slots, restarts of lost
drivers. Over SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.dag.run.state import ExecutionPhase, NodePhase
from engine.dag.spec import Identifier, ResourceType
from serve.driver.event_writer import EventWriter
from serve.errors import (
    ConflictError,
    DriverFencedError,
    ExecutionEndedError,
    InvalidArgumentError,
    NotFoundError,
)
from serve.store import AdminStore
from serve.store.execution_records import (
    AttemptEvent,
    ErrorInfo,
    ExecutionFilters,
    ExecutionId,
    ExecutionRequest,
    ExecutionStarted,
    NodeAttempt,
    NodeEvent,
    TargetKind,
)
from tests.fixtures import remote_wfs
from tests.serve.specs import DOMAIN, PROJECT, closure_tasks, workflow_spec


def register(store: AdminStore, wf: Any) -> Identifier:
    for task in closure_tasks(wf):
        store.register_task(task)
    entity, _ = store.register_workflow(workflow_spec(wf))
    return entity.id


def request(workflow: Identifier, name: str | None = "run-1", **inputs: Any) -> ExecutionRequest:
    return ExecutionRequest(PROJECT, DOMAIN, name, TargetKind.WORKFLOW, workflow.name,
                            workflow.version, inputs)


@pytest.fixture
def wf(store: AdminStore) -> Identifier:
    return register(store, remote_wfs.square_plus_one)


def test_create_is_idempotent_by_name_and_refuses_another_request(
        store: AdminStore, wf: Identifier) -> None:
    first, created, tickets = store.create_execution(request(wf, x=3))
    assert created and first.phase is ExecutionPhase.QUEUED
    assert first.inputs == {"x": 3} and first.workflow == wf
    assert first.launch_plan == dataclasses.replace(wf, resource_type=ResourceType.LAUNCH_PLAN)
    assert [t.launch for t in tickets] == [1]
    again, created, tickets = store.create_execution(request(wf, x=3))
    assert (again, created, tickets) == (first, False, [])
    with pytest.raises(ConflictError) as conflict:
        store.create_execution(request(wf, x=4))
    assert conflict.value.paths == ["inputs.x"]
    unnamed, created, _ = store.create_execution(request(wf, name=None, x=3))
    assert created and unnamed.id.name != "run-1"


def test_bad_requests_name_what_is_wrong(store: AdminStore, wf: Identifier) -> None:
    with pytest.raises(InvalidArgumentError, match="input 'x' expects int"):
        store.create_execution(request(wf, x="three"))
    with pytest.raises(InvalidArgumentError, match="required input"):
        store.create_execution(request(wf))
    with pytest.raises(NotFoundError, match="not registered"):
        store.create_execution(dataclasses.replace(request(wf, x=1), version="nope"))
    with pytest.raises(InvalidArgumentError, match="project 'nope' does not exist"):
        store.create_execution(dataclasses.replace(request(wf, x=1), project="nope"))


def test_a_driver_claims_and_a_newer_claim_fences_the_older(
        store: AdminStore, wf: Identifier) -> None:
    execution, _, _ = store.create_execution(request(wf, x=3))
    ident = execution.id
    assert store.claim_driver(ident, launch=2) is None  # not this launch's
    old = store.claim_driver(ident, launch=1)
    new = store.claim_driver(ident, launch=1)  # Ray restarted the actor, say
    assert old is not None and new is not None and new.incarnation == old.incarnation + 1
    assert new.workflow_spec is not None and new.workflow_spec["id"]["version"] == wf.version
    with pytest.raises(DriverFencedError, match="superseded"):
        store.record_events(ident, old.incarnation, [ExecutionStarted()])
    with pytest.raises(DriverFencedError, match="superseded"):
        store.heartbeat(ident, old.incarnation)
    assert store.record_events(ident, new.incarnation, [ExecutionStarted()]) is None
    assert store.get_execution(ident).phase is ExecutionPhase.RUNNING


def node(phase: NodePhase, **fields: Any) -> NodeEvent:
    return NodeEvent("n0", "t", 0, phase, **fields)


def attempt(number: int, outcome: NodePhase | None, end: float | None) -> AttemptEvent:
    return AttemptEvent("n0", NodeAttempt(number, 1.0, end, outcome, None, None, "MISS",
                                          {"pid": 1}))


def test_events_are_idempotent_and_move_forward_only(store: AdminStore,
                                                     wf: Identifier) -> None:
    ident = store.create_execution(request(wf, x=3))[0].id
    claim = store.claim_driver(ident, 1)
    assert claim is not None
    inc = claim.incarnation
    store.record_events(ident, inc, [ExecutionStarted(), node(NodePhase.RUNNING),
                                     node(NodePhase.QUEUED)])  # late, out of order
    assert store.get_node_execution(ident, "n0").phase is NodePhase.RUNNING
    done = [attempt(1, NodePhase.SUCCEEDED, 2.0),
            node(NodePhase.SUCCEEDED, outputs={"o0": {"inline": 9}})]
    store.record_events(ident, inc, done)
    store.record_events(ident, inc, done)  # a repeat changes nothing
    store.record_events(ident, inc, [attempt(1, None, None), node(NodePhase.FAILED,
                                                                  error="late")])
    got = store.get_node_execution(ident, "n0")
    assert got.phase is NodePhase.SUCCEEDED and got.error is None
    assert got.outputs == {"o0": {"inline": 9}}
    assert [(a.attempt, a.outcome, a.ended_at) for a in got.attempts] == [
        (1, NodePhase.SUCCEEDED, 2.0)]
    # A resuming driver reports it RECOVERED: the SUCCEEDED node keeps its record.
    newer = store.claim_driver(ident, 1)
    assert newer is not None and newer.done == {"n0": {"o0": {"inline": 9}}}
    assert newer.attempts == {"n0": 1}
    store.record_events(ident, newer.incarnation, [node(NodePhase.RECOVERED, outputs={})])
    assert store.get_node_execution(ident, "n0").phase is NodePhase.SUCCEEDED


def test_a_newer_driver_may_run_a_failed_node_again(store: AdminStore, wf: Identifier) -> None:
    ident = store.create_execution(request(wf, x=3))[0].id
    first = store.claim_driver(ident, 1)
    assert first is not None
    store.record_events(ident, first.incarnation, [
        attempt(1, NodePhase.FAILED, 2.0), node(NodePhase.FAILED, error="boom",
                                                error_kind="USER")])
    failed = store.get_node_execution(ident, "n0")
    assert failed.error == ErrorInfo("USER", "boom")
    second = store.claim_driver(ident, 1)
    assert second is not None
    store.record_events(ident, second.incarnation, [
        node(NodePhase.RUNNING), attempt(2, NodePhase.SUCCEEDED, 3.0),
        node(NodePhase.SUCCEEDED, outputs={"o0": {"inline": 1}})])
    again = store.get_node_execution(ident, "n0")
    assert again.phase is NodePhase.SUCCEEDED and again.error is None
    assert [a.outcome for a in again.attempts] == [NodePhase.FAILED, NodePhase.SUCCEEDED]


def test_writes_after_the_end_are_refused(store: AdminStore, wf: Identifier) -> None:
    ident = store.create_execution(request(wf, x=3))[0].id
    claim = store.claim_driver(ident, 1)
    assert claim is not None
    store.record_events(ident, claim.incarnation, [ExecutionStarted(), node(NodePhase.RUNNING)])
    store.finish_execution(ident, claim.incarnation, ExecutionPhase.SUCCEEDED,
                           outputs={"o0": {"inline": 10}})
    ended = store.get_execution(ident)
    assert ended.phase is ExecutionPhase.SUCCEEDED and ended.outputs == {"o0": {"inline": 10}}
    assert ended.started_at is not None and ended.ended_at is not None
    assert ended.started_at <= ended.ended_at
    # The node left RUNNING by the driver is closed with the execution.
    assert store.get_node_execution(ident, "n0").phase is NodePhase.ABORTED
    for write in (lambda: store.record_events(ident, claim.incarnation, [node(
                      NodePhase.SUCCEEDED)]),
                  lambda: store.heartbeat(ident, claim.incarnation),
                  lambda: store.finish_execution(ident, claim.incarnation,
                                                 ExecutionPhase.FAILED)):
        with pytest.raises(DriverFencedError):
            write()
    assert store.claim_driver(ident, 1) is None
    assert store.get_execution(ident).phase is ExecutionPhase.SUCCEEDED


def test_terminate(store: AdminStore, wf: Identifier) -> None:
    plan = register_limited(store, wf, limit=1)
    running = store.create_execution(plan_request(plan, "a"))[0].id
    waiting = store.create_execution(plan_request(plan, "b"))[0].id
    # Never launched (waiting for a slot): ABORTED at once, nothing to tell.
    aborted, launch = store.terminate_execution(waiting, "not needed")
    assert (aborted.phase, aborted.abort_cause, launch) == (ExecutionPhase.ABORTED,
                                                            "not needed", 0)
    # Launched: the cause is recorded and the driver is to be told (launch 1).
    execution, launch = store.terminate_execution(running, "stop it")
    assert (execution.phase, execution.abort_cause, launch) == (ExecutionPhase.QUEUED,
                                                                "stop it", 1)
    claim = store.claim_driver(running, 1)
    assert claim is not None and claim.execution.abort_cause == "stop it"
    assert store.heartbeat(running, claim.incarnation) == "stop it"
    store.finish_execution(running, claim.incarnation, ExecutionPhase.ABORTED)
    assert store.get_execution(running).abort_cause == "stop it"
    # Again: a no-op on ABORTED; refused on any other end.
    assert store.terminate_execution(running, "again")[0].abort_cause == "stop it"
    done = store.create_execution(request(wf, name="done", x=1))[0].id
    finished = store.claim_driver(done, 1)
    assert finished is not None
    store.finish_execution(done, finished.incarnation, ExecutionPhase.SUCCEEDED, outputs={})
    with pytest.raises(ExecutionEndedError, match="already ended SUCCEEDED"):
        store.terminate_execution(done, "too late")


def register_limited(store: AdminStore, wf: Identifier, limit: int) -> Identifier:
    plan = Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, "limited", "v1")
    store.register_launch_plan({"id": plan.to_dict(), "workflow_id": wf.to_dict(),
                                "default_inputs": {"x": 2}, "max_parallel_executions": limit})
    return plan


def plan_request(plan: Identifier, name: str) -> ExecutionRequest:
    return ExecutionRequest(PROJECT, DOMAIN, name, TargetKind.LAUNCH_PLAN, plan.name, None, {})


def test_launch_plan_slots_start_waiting_executions_oldest_first(
        store: AdminStore, wf: Identifier) -> None:
    plan = register_limited(store, wf, limit=2)
    started = [store.create_execution(plan_request(plan, n))[2] for n in "abcd"]
    assert [[t.execution.name for t in s] for s in started] == [["a"], ["b"], [], []]
    assert store.dispatch_waiting() == []
    claim = store.claim_driver(ExecutionId(PROJECT, DOMAIN, "a"), 1)
    assert claim is not None
    store.finish_execution(claim.execution.id, claim.incarnation, ExecutionPhase.FAILED,
                           ErrorInfo("USER", "boom"))
    assert [t.execution.name for t in store.dispatch_waiting()] == ["c"]
    assert store.dispatch_waiting() == []
    listed = store.list_executions(PROJECT, DOMAIN, ExecutionFilters(launch_plan="limited"))
    assert [e.id.name for e in listed.items] == ["d", "c", "b", "a"]
    failed = store.list_executions(PROJECT, DOMAIN, ExecutionFilters(
        phases=(ExecutionPhase.FAILED,)))
    assert [(e.id.name, e.error) for e in failed.items] == [("a", ErrorInfo("USER", "boom"))]


def test_at_most_max_starting_drivers_start_at_once(store: AdminStore,
                                                     wf: Identifier) -> None:
    started = [store.create_execution(request(wf, name=n, x=1), max_starting=2)[2]
               for n in "abcd"]
    assert [[t.execution.name for t in s] for s in started] == [["a"], ["b"], [], []]
    assert store.executions_waiting()
    assert store.dispatch_waiting(max_starting=2) == []
    # A driver that claims its execution has started: the next waiting one may start.
    assert store.claim_driver(ExecutionId(PROJECT, DOMAIN, "a"), 1) is not None
    assert [t.execution.name for t in store.dispatch_waiting(max_starting=2)] == ["c"]
    # Without a bound, every waiting execution starts.
    assert [t.execution.name for t in store.dispatch_waiting()] == ["d"]
    assert not store.executions_waiting()


def test_a_lost_driver_is_replaced_until_the_budget_is_spent(store: AdminStore,
                                                             wf: Identifier) -> None:
    ident = store.create_execution(request(wf, x=3))[0].id
    [lease] = store.driver_leases()
    assert (lease.execution, lease.launch, lease.heartbeat_at) == (ident, 1, None)
    assert lease.launched_at is not None and lease.launched_at <= lease.now
    ticket = store.restart_driver(ident, 1, max_restarts=1, reason="gone")
    assert ticket is not None and ticket.launch == 2
    assert store.restart_driver(ident, 1, max_restarts=1, reason="gone") is None  # done
    assert store.claim_driver(ident, 1) is None  # the replaced launch may not claim
    claim = store.claim_driver(ident, 2)
    assert claim is not None
    [lease] = store.driver_leases()
    assert lease.heartbeat_at is not None and lease.heartbeat_at <= lease.now
    assert store.restart_driver(ident, 2, max_restarts=1, reason="heartbeat stale") is None
    failed = store.get_execution(ident)
    assert failed.phase is ExecutionPhase.FAILED and failed.error is not None
    assert failed.error.kind == "SYSTEM" and "heartbeat stale" in failed.error.message
    assert failed.driver_restarts == 1
    with pytest.raises(DriverFencedError):
        store.heartbeat(ident, claim.incarnation)


def test_a_restart_fences_out_the_lost_driver_before_its_replacement_claims(
        store: AdminStore, wf: Identifier) -> None:
    ident = store.create_execution(request(wf, x=3))[0].id
    lost = store.claim_driver(ident, 1)
    assert lost is not None
    store.record_events(ident, lost.incarnation, [ExecutionStarted(), node(NodePhase.RUNNING)])
    ticket = store.restart_driver(ident, 1, max_restarts=3, reason="heartbeat stale")
    assert ticket is not None and ticket.launch == 2
    # Still running, and told to stop (forget), the lost driver reports its node and
    # itself ABORTED before the new launch claims: refused, not the execution's end.
    with pytest.raises(DriverFencedError, match="superseded"):
        store.record_events(ident, lost.incarnation, [node(NodePhase.ABORTED)])
    with pytest.raises(DriverFencedError, match="superseded"):
        store.finish_execution(ident, lost.incarnation, ExecutionPhase.ABORTED,
                               ErrorInfo("USER", "its driver was replaced by a later launch"))
    assert store.get_execution(ident).phase is ExecutionPhase.RUNNING
    new = store.claim_driver(ident, 2)
    assert new is not None
    store.record_events(ident, new.incarnation, [
        node(NodePhase.SUCCEEDED, outputs={"o0": {"inline": 10}})])
    store.finish_execution(ident, new.incarnation, ExecutionPhase.SUCCEEDED, outputs={})
    assert store.get_execution(ident).phase is ExecutionPhase.SUCCEEDED
    assert store.get_node_execution(ident, "n0").phase is NodePhase.SUCCEEDED


def test_the_event_writer_says_when_its_events_are_not_all_written(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/admin.db"
    store = AdminStore(url)
    lock = sqlite3.connect(tmp_path / "admin.db", isolation_level=None)
    try:
        ident = store.create_execution(request(register(store, remote_wfs.square_plus_one),
                                               x=3))[0].id
        claim = store.claim_driver(ident, 1)
        assert claim is not None
        stops: list[str] = []
        writer = EventWriter(store, ident, claim.incarnation, 60.0, stops.append)
        writer.start()
        lock.execute("BEGIN EXCLUSIVE")  # the database is busy: the write waits
        writer.put(node(NodePhase.SUCCEEDED, outputs={"o0": {"inline": 10}}))
        # Closed while the node's success is unwritten: the driver must not record the
        # execution's end (it would close the node ABORTED).
        assert writer.close(timeout_s=0.5) is False
        lock.execute("ROLLBACK")
        assert writer.close() is True and stops == []
        assert store.get_node_execution(ident, "n0").phase is NodePhase.SUCCEEDED
    finally:
        lock.close()
        store.close()


def test_a_timeout_is_checked_kept_and_copied_and_node_inputs_are_kept(
        store: AdminStore, wf: Identifier) -> None:
    for bad in (0, -1.5, float("inf"), True):
        with pytest.raises(InvalidArgumentError, match="timeout must be a number of seconds"):
            store.create_execution(dataclasses.replace(request(wf, x=1), timeout_s=bad))
    timed = dataclasses.replace(request(wf, x=1), timeout_s=2.5)
    execution, _, _ = store.create_execution(timed)
    assert execution.timeout_s == 2.5
    with pytest.raises(ConflictError) as conflict:  # the same name without the timeout
        store.create_execution(request(wf, x=1))
    assert conflict.value.paths == ["timeout"]
    ident = execution.id
    claim = store.claim_driver(ident, 1)
    assert claim is not None and claim.execution.timeout_s == 2.5
    assert claim.claimed_at is not None and claim.execution.started_at is None
    store.record_events(ident, claim.incarnation, [
        ExecutionStarted(), node(NodePhase.RUNNING, inputs={"x": {"inline": 1}})])
    started = store.get_execution(ident).started_at
    again = store.claim_driver(ident, 1)  # a restarted driver: it ran since started_at
    assert again is not None and again.claimed_at is not None and started is not None
    assert again.claimed_at >= started
    store.finish_execution(ident, again.incarnation, ExecutionPhase.TIMED_OUT,
                           ErrorInfo("USER", "ran past its timeout"))
    ended = store.get_execution(ident)
    assert (ended.phase, ended.error, ended.abort_cause) == (
        ExecutionPhase.TIMED_OUT, ErrorInfo("USER", "ran past its timeout"), None)
    stopped = store.get_node_execution(ident, "n0")
    assert stopped.phase is NodePhase.ABORTED and stopped.inputs == {"x": {"inline": 1}}
    relaunched = store.relaunch_execution(ident, name="again")[0]
    recovered = store.recover_execution(ident, name="recovered")[0]
    assert relaunched.timeout_s == recovered.timeout_s == 2.5
