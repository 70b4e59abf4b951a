"""Launch plans and schedules (not implemented yet)."""

from __future__ import annotations

from typing import Any, NoReturn

from engine._later import LaterClass
from engine.errors import NotYetSupportedError


class LaunchPlan(LaterClass):
    feature = "LaunchPlan"

    @classmethod
    def get_or_create(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotYetSupportedError("LaunchPlan.get_or_create()")

    @classmethod
    def get_default_launch_plan(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotYetSupportedError("LaunchPlan.get_default_launch_plan()")


class CronSchedule(LaterClass):
    feature = "CronSchedule (scheduled launch plans)"


class FixedRate(LaterClass):
    feature = "FixedRate (scheduled launch plans)"
