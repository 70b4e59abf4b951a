"""Notifications of a launch plan, as flytekit's: ``Email``, ``Slack`` and ``PagerDuty``
with ``WorkflowExecutionPhase``, plus Flyray's ``Webhook``.

.. code-block:: python

    LaunchPlan.get_or_create(wf, name="nightly", notifications=[
        Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["ops@example.com"]),
        Webhook(phases=[WorkflowExecutionPhase.SUCCEEDED], url="https://ci.example/hook"),
    ])

Each is checked when it is defined (a ConfigError says what is wrong) and recorded in the
launch plan's registered spec; the control plane delivers it when an execution of the
plan ends in one of its phases (``serve.control.notifier``). Called from Python, a launch
plan runs its workflow and sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from engine.dag.spec.notification import TERMINAL_PHASES, NotificationKind, NotificationSpec
from engine.errors import ConfigError, SpecError


class WorkflowExecutionPhase(IntEnum):
    """An execution's phases, with flytekit's (Flyte IDL's) numbers. Notifications fire
    on the terminal ones: SUCCEEDED, FAILED, TIMED_OUT and ABORTED."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDING = 3
    SUCCEEDED = 4
    FAILING = 5
    FAILED = 6
    ABORTED = 7
    TIMED_OUT = 8
    ABORTING = 9

    @classmethod
    def enum_to_string(cls, int_value: int) -> str:
        """The phase's name (``"FAILED"`` for 6), or the number as text when none has it."""
        try:
            return cls(int_value).name
        except ValueError:
            return str(int_value)


class Notification:
    """A notification of a launch plan: a channel and the terminal phases it fires on.

    Immutable; equal when of the same kind with the same fields.
    """

    __slots__ = ("_spec",)
    _spec: NotificationSpec

    def __init__(self, kind: NotificationKind, phases: Iterable[Any],
                 recipients_email: Iterable[str] | None = None, url: str | None = None,
                 routing_key: str | None = None) -> None:
        where = f"{type(self).__name__} notification"
        try:
            spec = NotificationSpec(kind, _phase_names(phases, where),
                                    _addresses(recipients_email, where), url, routing_key)
        except SpecError as e:
            raise ConfigError(f"{where}: {e}") from None
        object.__setattr__(self, "_spec", spec)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: define a new one")

    @property
    def phases(self) -> list[WorkflowExecutionPhase]:
        return [WorkflowExecutionPhase[p] for p in self._spec.phases]

    @property
    def recipients_email(self) -> list[str]:
        return list(self._spec.recipients_email)

    def to_spec(self) -> NotificationSpec:
        """The registered form (``LaunchPlanSpec.notifications``)."""
        return self._spec

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notification) and type(other) is type(self) \
            and other._spec == self._spec

    def __hash__(self) -> int:
        return hash((type(self), self._spec))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._spec.to_dict()[
            self._spec.kind.value].items())
        return f"{type(self).__name__}(phases={list(self._spec.phases)}, {fields})"


class Email(Notification):
    """E-mail to ``recipients_email`` through the control plane's SMTP server."""

    __slots__ = ()

    def __init__(self, phases: Iterable[Any], recipients_email: Iterable[str]) -> None:
        super().__init__(NotificationKind.EMAIL, phases, recipients_email)


class Slack(Notification):
    """A Slack message: posted to ``webhook_url`` (a Slack incoming webhook), else to the
    control plane's ``slack_webhook_url``, else e-mailed to ``recipients_email`` (the
    channels' e-mail addresses, as Flyte sends it)."""

    __slots__ = ()

    def __init__(self, phases: Iterable[Any], recipients_email: Iterable[str] | None = None,
                 webhook_url: str | None = None) -> None:
        super().__init__(NotificationKind.SLACK, phases, recipients_email, url=webhook_url)

    @property
    def webhook_url(self) -> str | None:
        return self._spec.url


class PagerDuty(Notification):
    """A PagerDuty event through its Events API v2, routed by ``routing_key`` (else the
    control plane's ``pagerduty_routing_key``), else an e-mail to ``recipients_email``
    (the services' e-mail integration addresses, as Flyte sends it)."""

    __slots__ = ()

    def __init__(self, phases: Iterable[Any], recipients_email: Iterable[str] | None = None,
                 routing_key: str | None = None) -> None:
        super().__init__(NotificationKind.PAGER_DUTY, phases, recipients_email,
                         routing_key=routing_key)

    @property
    def routing_key(self) -> str | None:
        return self._spec.routing_key


class Webhook(Notification):
    """An HTTP POST of the execution's summary (JSON) to ``url``: Flyray's own."""

    __slots__ = ()

    def __init__(self, phases: Iterable[Any], url: str) -> None:
        super().__init__(NotificationKind.WEBHOOK, phases, url=url)

    @property
    def url(self) -> str:
        assert self._spec.url is not None  # a webhook's spec always has one
        return self._spec.url


def _phase_names(phases: Iterable[Any], where: str) -> tuple[str, ...]:
    """The phases as Flyte's names: each a ``WorkflowExecutionPhase``, its number or its
    name."""
    if isinstance(phases, (str, bytes)) or not isinstance(phases, Iterable):
        raise ConfigError(f"{where}: phases must be a list of WorkflowExecutionPhase, got "
                          f"{phases!r}")
    names = []
    for phase in phases:
        name = _phase_name(phase)
        if name not in TERMINAL_PHASES:
            allowed = ", ".join(f"WorkflowExecutionPhase.{p}" for p in TERMINAL_PHASES)
            shown = (f"WorkflowExecutionPhase.{phase.name}"
                     if isinstance(phase, WorkflowExecutionPhase) else repr(phase))
            raise ConfigError(f"{where}: phase {shown} cannot be notified; notifications "
                              f"fire only when an execution ends: {allowed}")
        names.append(name)
    return tuple(names)


def _phase_name(phase: Any) -> str | None:
    if isinstance(phase, bool):
        return None
    if isinstance(phase, int):
        try:
            return WorkflowExecutionPhase(phase).name
        except ValueError:
            return None
    if isinstance(phase, str):  # a name, or Flyray's ExecutionPhase (a str enum)
        return phase.upper()
    return None


def _addresses(recipients: Iterable[str] | None, where: str) -> tuple[str, ...]:
    if recipients is None:
        return ()
    if isinstance(recipients, str):
        raise ConfigError(f"{where}: recipients_email must be a list of addresses, got the "
                          f"text {recipients!r}; write [{recipients!r}]")
    if not isinstance(recipients, Iterable):
        raise ConfigError(f"{where}: recipients_email must be a list of addresses, got "
                          f"{recipients!r}")
    return tuple(recipients)
