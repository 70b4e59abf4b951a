"""Response models of the schedule routes (pydantic): each active schedule with its next
fire times and its last execution. Times are ISO 8601 in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from serve.api.execution_schemas import ExecutionIdModel
from serve.api.schemas import IdentifierModel
from serve.store.schedule_records import ScheduledPlan


class ScheduleModel(BaseModel):
    """The schedule of a launch plan name, as fired by its ACTIVE version."""

    launch_plan: IdentifierModel = Field(description="The active version, whose schedule "
                                         "fires.")
    schedule: dict[str, Any] = Field(description="As in the launch plan's spec: "
                                     "cron_schedule or rate, kickoff_time_input_arg, "
                                     "catch_up.")
    description: str = Field(description="e.g. 'cron @hourly' or 'every 10 minutes'.")
    next_fire_times: list[dt.datetime] = Field(description="The next scheduled times (UTC).")
    last_fired_at: dt.datetime | None = Field(description="The scheduled time of the last "
                                              "tick fired under this name (any version).")
    last_execution: ExecutionIdModel | None = Field(description="The execution that tick "
                                                    "made.")

    @classmethod
    def of(cls, plan: ScheduledPlan, next_times: list[dt.datetime]) -> ScheduleModel:
        state = plan.state
        last = state.last_execution if state is not None else None
        return cls(launch_plan=IdentifierModel.of(plan.id), schedule=plan.schedule.to_dict(),
                   description=plan.schedule.describe(), next_fire_times=next_times,
                   last_fired_at=state.last_fired_at if state is not None else None,
                   last_execution=ExecutionIdModel.of(last) if last is not None else None)


class ScheduleList(BaseModel):
    schedules: list[ScheduleModel]
    token: str = Field(description="Pass as ?token= for the next page; empty on the last.")
