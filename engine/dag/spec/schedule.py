"""Schedules of launch plans: ``CronSchedule`` and ``FixedRate``, as flytekit's.

Plain, immutable data with its JSON form and the pure functions that compute fire
times; the control plane's scheduler (``serve.control.scheduler``) fires them. Every time is
UTC: a cron expression is read in UTC, and the times given to and returned by these
functions are timezone-aware UTC datetimes. Users import them from ``engine`` (or
flytekit's path, ``engine.core.schedule``).

A schedule is part of a launch plan's spec (:mod:`engine.dag.spec.launch_plan`), so it
cannot change: registering another schedule means registering a new launch plan version.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from engine.errors import ConfigError

UTC = dt.timezone.utc
# The non-standard definitions Flyte's native scheduler accepts (no @reboot).
CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                "@hourly")
_CRON_HELP = ("a standard cron expression has 5 fields (minute hour day-of-month month "
              "day-of-week), e.g. '0 * * * *' or '*/15 9-17 * * 1-5', or is one of "
              + ", ".join(CRON_ALIASES))
_RATE_UNITS = {"DAY": 86400, "HOUR": 3600, "MINUTE": 60}
_MAX_RATE_MINUTES = 100 * 366 * 24 * 60  # a century: larger values are surely a mistake
_ISO_DURATION = re.compile(r"(-)?P(?:(\d+)W)?(?:(\d+)D)?"
                           r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def _utc(moment: dt.datetime, what: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (schedules are in UTC), "
                         f"got the naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _check_kickoff(kickoff_time_input_arg: str | None, where: str) -> None:
    if kickoff_time_input_arg is not None and (
            not isinstance(kickoff_time_input_arg, str) or not kickoff_time_input_arg):
        raise ConfigError(f"{where}: kickoff_time_input_arg must be the name of a datetime "
                          f"input of the workflow, got {kickoff_time_input_arg!r}")


def _check_catch_up(catch_up: object, where: str) -> bool:
    if not isinstance(catch_up, bool):
        raise ConfigError(f"{where}: catch_up must be True (fire every missed tick) or False "
                          f"(fire only the latest missed tick), got {catch_up!r}")
    return catch_up


def parse_offset(offset: str | dt.timedelta | None, where: str) -> dt.timedelta | None:
    """An offset as a timedelta: ``offset`` is an ISO 8601 duration ("PT30M", "P1DT2H",
    "-PT5M") or a timedelta; None or zero: no offset. Years and months are refused
    (their length varies)."""
    if offset is None:
        return None
    if isinstance(offset, dt.timedelta):
        value = offset
    elif isinstance(offset, str):
        match = _ISO_DURATION.fullmatch(offset.strip().upper())
        if match is None or not any(match.group(i) for i in range(2, 7)):
            raise ConfigError(f"{where}: offset {offset!r} is not an ISO 8601 duration of "
                              "weeks, days, hours, minutes and seconds, e.g. 'PT30M' or "
                              "'P1DT2H' (years and months are not accepted)")
        sign, weeks, days, hours, minutes, seconds = match.groups()
        value = dt.timedelta(weeks=int(weeks or 0), days=int(days or 0),
                             hours=int(hours or 0), minutes=int(minutes or 0),
                             seconds=float(seconds or 0))
        value = -value if sign else value
    else:
        raise ConfigError(f"{where}: offset must be an ISO 8601 duration such as 'PT30M' or "
                          f"a timedelta, got {type(offset).__name__}")
    if value % dt.timedelta(seconds=1):
        raise ConfigError(f"{where}: offset must be a whole number of seconds, got {value}")
    return value or None


def format_offset(offset: dt.timedelta) -> str:
    """The ISO 8601 form of a (whole-second) offset: "PT30M", "P1DT2H", "-PT5M"."""
    seconds = int(abs(offset).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "-P" if offset < dt.timedelta(0) else "P"
    text += f"{days}D" if days else ""
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return text + (f"T{clock}" if clock else "")


@dataclass(frozen=True, init=False)
class CronSchedule:
    """Fire a launch plan at the times of a cron expression, read in UTC.

    ``CronSchedule(schedule="@hourly", kickoff_time_input_arg="kickoff_time")`` fires at
    the beginning of every hour and gives each execution its scheduled time (a UTC
    datetime) as the workflow input ``kickoff_time``.

    Args:
        cron_expression: flytekit's deprecated AWS form; not accepted (use ``schedule``).
        schedule: a standard 5-field cron expression or one of ``@yearly``,
            ``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight``, ``@hourly``.
        offset: shifts every fire time: an ISO 8601 duration ("PT30M") or a timedelta.
        kickoff_time_input_arg: the workflow's datetime input that receives the
            scheduled time.
        catch_up: after the scheduler was down, fire every missed tick, oldest first
            (True, Flyte's behaviour), or only the most recent one (False).

    Raises:
        ConfigError: the expression is not valid (the message says what is wrong).
    """

    schedule: str
    offset: dt.timedelta | None
    kickoff_time_input_arg: str | None
    catch_up: bool

    def __init__(self, cron_expression: str | None = None, schedule: str | None = None,
                 offset: str | dt.timedelta | None = None,
                 kickoff_time_input_arg: str | None = None, *, catch_up: bool = True) -> None:
        if cron_expression is not None:
            raise ConfigError(
                f"CronSchedule: cron_expression={cron_expression!r} is flytekit's deprecated "
                "AWS form, which Flyray does not accept; pass schedule= with a standard cron "
                "expression instead, e.g. CronSchedule(schedule='0 * * * *')")
        if not isinstance(schedule, str):
            raise ConfigError(f"CronSchedule: schedule is required: {_CRON_HELP}")
        where = f"CronSchedule(schedule={schedule!r})"
        _check_kickoff(kickoff_time_input_arg, where)
        object.__setattr__(self, "schedule", _checked_cron(schedule.strip()))
        object.__setattr__(self, "offset", parse_offset(offset, where))
        object.__setattr__(self, "kickoff_time_input_arg", kickoff_time_input_arg)
        object.__setattr__(self, "catch_up", _check_catch_up(catch_up, where))

    def describe(self) -> str:
        shift = f" {format_offset(self.offset)}" if self.offset else ""
        return f"cron {self.schedule}{shift}"

    def next_times(self, origin: dt.datetime, after: dt.datetime,
                   count: int) -> list[dt.datetime]:
        """The first ``count`` fire times strictly after ``after`` (``origin`` is unused:
        cron times do not depend on when the schedule started)."""
        shift = self.offset or dt.timedelta(0)
        it = croniter(self.schedule, _utc(after, "after") - shift)
        return [it.get_next(dt.datetime) + shift for _ in range(count)]

    def due_times(self, origin: dt.datetime, until: dt.datetime,
                  limit: int) -> list[dt.datetime]:
        """Fire times in (``origin``, ``until``]: the latest ``limit`` of them, oldest
        first."""
        shift = self.offset or dt.timedelta(0)
        origin, until = _utc(origin, "origin"), _utc(until, "until")
        # croniter's get_prev is strictly before its start: start a second later, and
        # drop a time past ``until`` (a start with a fraction of a second).
        it = croniter(self.schedule, until - shift + dt.timedelta(seconds=1))
        times: list[dt.datetime] = []
        while len(times) < limit:
            moment = it.get_prev(dt.datetime) + shift
            if moment <= origin:
                break
            if moment <= until:
                times.append(moment)
        return times[::-1]

    def to_dict(self) -> dict[str, Any]:
        return {"cron_schedule": {"schedule": self.schedule,
                                  "offset": format_offset(self.offset) if self.offset
                                  else None},
                "kickoff_time_input_arg": self.kickoff_time_input_arg,
                "catch_up": self.catch_up}


def _checked_cron(expression: str) -> str:
    where = f"CronSchedule(schedule={expression!r})"
    if expression.startswith("@"):
        if expression.lower() not in CRON_ALIASES:
            raise ConfigError(f"{where}: unknown definition {expression!r}; {_CRON_HELP}")
        return expression.lower()
    fields = expression.split()
    if len(fields) != 5:
        raise ConfigError(f"{where}: has {len(fields)} field(s), not 5; {_CRON_HELP}")
    reason = _cron_problem(fields)
    if reason is None:
        return " ".join(fields)
    if reason == _NOT_ACCEPTED:
        for i, (name, allowed) in enumerate(_CRON_FIELDS):
            alone = [fields[i] if j == i else "*" for j in range(5)]
            if _cron_problem(alone) == _NOT_ACCEPTED:
                raise ConfigError(f"{where}: its {name} field {fields[i]!r} is not valid "
                                  f"(allowed: {allowed}; lists a,b, ranges a-b, steps */n)")
    raise ConfigError(f"{where}: {reason}; {_CRON_HELP}")


_NOT_ACCEPTED = "it is not a valid cron expression"
_CRON_FIELDS = (("minute", "0-59"), ("hour", "0-23"), ("day-of-month", "1-31"),
                ("month", "1-12 or jan-dec"), ("day-of-week", "0-6 or sun-sat"))


def _cron_problem(fields: list[str]) -> str | None:
    """Why croniter refuses the expression of ``fields``, or None when it accepts it."""
    expression = " ".join(fields)
    try:
        croniter(expression, dt.datetime(2000, 1, 1, tzinfo=UTC)).get_next(dt.datetime)
    except CroniterBadDateError:
        return ("it matches no date (such as the 31st of a month that has 30 days), so it "
                "would never fire")
    except (CroniterBadCronError, CroniterError, ValueError, KeyError):
        return _NOT_ACCEPTED
    return None


@dataclass(frozen=True, init=False)
class FixedRate:
    """Fire a launch plan every ``duration`` (a whole number of minutes, at least one).

    The first fire is one ``duration`` after the scheduler starts the schedule (within
    a second or two of its activation); each next one is one ``duration`` after the
    previous scheduled time.

    Args:
        duration: the interval, e.g. ``timedelta(days=1)``.
        kickoff_time_input_arg: the workflow's datetime input that receives the
            scheduled time.
        catch_up: after the scheduler was down, fire every missed tick, oldest first
            (True, Flyte's behaviour), or only the most recent one (False).
    """

    duration: dt.timedelta
    kickoff_time_input_arg: str | None
    catch_up: bool

    def __init__(self, duration: dt.timedelta, kickoff_time_input_arg: str | None = None,
                 *, catch_up: bool = True) -> None:
        where = f"FixedRate(duration={duration!r})"
        if not isinstance(duration, dt.timedelta):
            raise ConfigError(f"{where}: duration must be a timedelta, e.g. "
                              "timedelta(hours=1)")
        if duration < dt.timedelta(minutes=1) or duration % dt.timedelta(minutes=1) \
                or duration > dt.timedelta(minutes=_MAX_RATE_MINUTES):
            raise ConfigError(f"{where}: a fixed rate is a whole number of minutes, at least "
                              f"one (as in Flyte) and at most a century, got {duration}")
        _check_kickoff(kickoff_time_input_arg, where)
        object.__setattr__(self, "duration", duration)
        object.__setattr__(self, "kickoff_time_input_arg", kickoff_time_input_arg)
        object.__setattr__(self, "catch_up", _check_catch_up(catch_up, where))

    def describe(self) -> str:
        value, unit = self._rate()
        return f"every {value} {unit.lower()}{'s' if value != 1 else ''}"

    def next_times(self, origin: dt.datetime, after: dt.datetime,
                   count: int) -> list[dt.datetime]:
        """The first ``count`` times of ``origin`` + k × duration (k >= 1) strictly
        after ``after``."""
        origin, after = _utc(origin, "origin"), _utc(after, "after")
        k = max(1, (after - origin) // self.duration + 1)
        return [origin + (k + i) * self.duration for i in range(count)]

    def due_times(self, origin: dt.datetime, until: dt.datetime,
                  limit: int) -> list[dt.datetime]:
        """Times ``origin`` + k × duration (k >= 1) up to ``until``: the latest ``limit``
        of them, oldest first."""
        origin, until = _utc(origin, "origin"), _utc(until, "until")
        last = (until - origin) // self.duration if until > origin else 0
        first = max(1, last - limit + 1)
        return [origin + k * self.duration for k in range(first, last + 1)]

    def _rate(self) -> tuple[int, str]:
        seconds = int(self.duration.total_seconds())
        unit = next(u for u, size in _RATE_UNITS.items() if seconds % size == 0)
        return seconds // _RATE_UNITS[unit], unit

    def to_dict(self) -> dict[str, Any]:
        value, unit = self._rate()
        return {"rate": {"value": value, "unit": unit},
                "kickoff_time_input_arg": self.kickoff_time_input_arg,
                "catch_up": self.catch_up}


Schedule = CronSchedule | FixedRate


def schedule_from_dict(data: Any) -> Schedule:
    """A schedule from its JSON form (``to_dict``); ConfigError says what is wrong."""
    where = "schedule"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be an object with 'cron_schedule' or 'rate', got "
                          f"{type(data).__name__}")
    unknown = sorted(set(data) - {"cron_schedule", "rate", "kickoff_time_input_arg",
                                  "catch_up"})
    if unknown:
        raise ConfigError(f"{where} has unknown field(s) {unknown}; known: cron_schedule, "
                          "rate, kickoff_time_input_arg, catch_up")
    if ("cron_schedule" in data) == ("rate" in data):
        raise ConfigError(f"{where} must have exactly one of 'cron_schedule' "
                          "({\"schedule\": \"@hourly\", \"offset\": null}) and 'rate' "
                          "({\"value\": 1, \"unit\": \"DAY\"})")
    kickoff = data.get("kickoff_time_input_arg")
    catch_up = data.get("catch_up", True)
    if "cron_schedule" in data:
        cron = data["cron_schedule"]
        if not isinstance(cron, dict) or set(cron) - {"schedule", "offset"}:
            raise ConfigError(f"{where}.cron_schedule must be an object with 'schedule' "
                              "and (optional) 'offset'")
        return CronSchedule(schedule=cron.get("schedule"), offset=cron.get("offset"),
                            kickoff_time_input_arg=kickoff, catch_up=catch_up)
    rate = data["rate"]
    if not isinstance(rate, dict) or set(rate) != {"value", "unit"}:
        raise ConfigError(f"{where}.rate must be an object with 'value' and 'unit'")
    value, unit = rate["value"], rate["unit"]
    if not isinstance(value, int) or isinstance(value, bool) or unit not in _RATE_UNITS \
            or not 1 <= value <= _MAX_RATE_MINUTES:
        raise ConfigError(f"{where}.rate: value must be a whole number from 1 to "
                          f"{_MAX_RATE_MINUTES} and unit one of {', '.join(_RATE_UNITS)}, got "
                          f"{value!r} {unit!r}")
    return FixedRate(dt.timedelta(seconds=value * _RATE_UNITS[unit]), kickoff,
                     catch_up=catch_up)
