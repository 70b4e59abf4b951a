"""What the admin store takes and returns about schedules: plain frozen data, never rows.

The scheduler reads ``ScheduledPlan`` every pass and gets ``Fired`` back from a fire;
the API lists the same ``ScheduledPlan`` records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from engine.dag.spec import Identifier, Schedule
from serve.store.execution_records import ExecutionId, LaunchTicket


@dataclass(frozen=True)
class ScheduleState:
    """Where the schedule of a launch plan name stands (see ``ScheduleRow``).

    Attributes:
        launch_plan_pk, activation: the activation of the version it follows.
        anchor: ticks after this moment belong to that activation.
        last_fired_at: the scheduled time of the last tick fired under the name.
        last_execution: the execution that tick made.
    """

    launch_plan_pk: int
    activation: dt.datetime
    anchor: dt.datetime
    last_fired_at: dt.datetime | None
    last_execution: ExecutionId | None

    @property
    def origin(self) -> dt.datetime:
        """The moment the next tick comes after."""
        return max(self.anchor, self.last_fired_at or self.anchor)

    def follows(self, plan_pk: int, activation: dt.datetime) -> bool:
        """Whether this state belongs to that activation of that version."""
        return (self.launch_plan_pk, self.activation) == (plan_pk, activation)


@dataclass(frozen=True)
class ScheduledPlan:
    """An ACTIVE launch plan version with a schedule, and its name's schedule state
    (None before the scheduler first saw it)."""

    pk: int
    id: Identifier
    schedule: Schedule
    # The version's state_updated_at: one value per activation.
    activation: dt.datetime
    state: ScheduleState | None

    @property
    def current(self) -> ScheduleState | None:
        """The state, when it follows this activation (else the scheduler starts it)."""
        if self.state is not None and self.state.follows(self.pk, self.activation):
            return self.state
        return None


@dataclass(frozen=True)
class Fired:
    """What one fire of a schedule did: the ticks it fired (scheduled times, oldest
    first), the executions they made, and the drivers to start now."""

    times: list[dt.datetime] = field(default_factory=list)
    executions: list[ExecutionId] = field(default_factory=list)
    tickets: list[LaunchTicket] = field(default_factory=list)
