"""The admin store's methods for schedules: what the scheduler reads and fires, the
scheduler's leader lease, and the listing of active schedules.

A mixin of :class:`serve.store.AdminStore`: every method is one short transaction over
``self.database`` taking and returning the plain data of
``serve.store.schedule_records``.
"""

from __future__ import annotations

import datetime as dt

from serve.store import _schedules
from serve.store._db import Database
from serve.store.records import ListOptions, Page
from serve.store.schedule_records import Fired, ScheduledPlan


class ScheduleMethods:
    database: Database

    def scheduled_plans(self) -> list[ScheduledPlan]:
        """Every ACTIVE launch plan version that has a schedule, with its name's state."""
        return self.database.run(_schedules.scheduled_plans, write=False)

    def list_schedules(self, project: str, domain: str,
                       options: ListOptions | None = None) -> Page[ScheduledPlan]:
        """The active schedules of a project and domain, by launch plan name."""
        return self.database.run(lambda s: _schedules.list_scheduled(
            s, project, domain, options or ListOptions()), write=False)

    def fire_schedule(self, plan: ScheduledPlan, now: dt.datetime, anchor: dt.datetime,
                      limit: int, blob_root: str | None = None,
                      max_starting: int | None = None) -> Fired:
        """Fire the ticks of ``plan`` due at ``now`` (at most ``limit``), each exactly
        once whoever else fires them; ``anchor``: where a new activation's ticks count
        from. Returns what was fired and the drivers to start."""
        return self.database.run(lambda s: _schedules.fire(
            s, plan.pk, plan.activation, now, anchor, limit, blob_root, max_starting),
            write=True)

    def lead_scheduler(self, holder: str, lease_s: float) -> bool:
        """Take or renew the scheduler's leader lease for ``holder`` (``lease_s`` seconds
        of the database's clock); False while another scheduler holds it. Mostly a read:
        the lease is written when taken and when half of it has run out."""
        write = self.database.run(lambda s: _schedules.needs_write(s, holder, lease_s),
                                  write=False)
        if write is None:
            return False
        if not write:
            return True
        return self.database.run(lambda s: _schedules.lead(s, holder, lease_s), write=True)

    def resign_scheduler(self, holder: str) -> None:
        """Give up the leader lease, if ``holder`` has it."""
        self.database.run(lambda s: _schedules.resign(s, holder), write=True)
