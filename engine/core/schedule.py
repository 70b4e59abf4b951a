"""flytekit's path to launch plan schedules (``flytekit.core.schedule``); they live in
:mod:`engine.dag.spec.schedule`, beside the launch plan spec that stores them."""

from __future__ import annotations

from engine.dag.spec.schedule import CronSchedule, FixedRate, Schedule

__all__ = ["CronSchedule", "FixedRate", "Schedule"]
