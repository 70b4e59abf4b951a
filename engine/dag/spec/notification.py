"""A launch plan's notifications: whom the control plane tells, and how, when one of the
plan's executions ends in one of the given phases.

Plain, immutable data and its JSON contract, after Flyte's admin ``Notification``: a list
of terminal phases and one channel, ``{"phases": ["FAILED"], "email": {"recipients_email":
[...]}}``. The channels are flytekit's three (``email``, ``slack``, ``pager_duty``, each
with recipients' e-mail addresses) and Flyray's ``webhook`` (a URL the execution's summary
is POSTed to). A Slack or PagerDuty notification may also name its own incoming-webhook
URL or Events API routing key instead of the control plane's settings.

Invariants (checked on construction, so by ``from_dict`` and by the SDK alike): at least
one phase, each terminal, none twice; addresses with no room for header injection; URLs
http(s) only. Errors are SpecErrors saying what is wrong; callers add where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from engine.errors import SpecError

# The phases a notification may fire on: an execution's terminal phases (Flyte's names).
TERMINAL_PHASES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
MAX_RECIPIENTS = 100
MAX_URL = 2048
# local@domain; no whitespace, quotes, brackets, commas or semicolons: a recipient is
# written into a mail header and an SMTP command as it is.
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+$")
_URL = re.compile(r"^https?://[^/\s?#]+[^\s]*$")
_ROUTING_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class NotificationKind(str, Enum):
    """A notification's channel; its value is the channel's key in the JSON form."""

    EMAIL = "email"
    SLACK = "slack"
    PAGER_DUTY = "pager_duty"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class NotificationSpec:
    """One notification of a launch plan."""

    kind: NotificationKind
    # Terminal phases (``TERMINAL_PHASES``) it fires on, in the order given.
    phases: tuple[str, ...]
    # EMAIL, SLACK, PAGER_DUTY: addresses it goes to (an e-mail, or the channel's or
    # service's e-mail integration when no URL or routing key applies).
    recipients_email: tuple[str, ...] = ()
    # WEBHOOK: where the summary is POSTed (required). SLACK: its incoming-webhook URL
    # (None: the control plane's ``slack_webhook_url``, else e-mail to the recipients).
    url: str | None = None
    # PAGER_DUTY: its Events API v2 routing (integration) key (None: the control plane's
    # ``pagerduty_routing_key``, else e-mail to the recipients).
    routing_key: str | None = None

    def __post_init__(self) -> None:
        _check_phases(self.phases)
        _check_recipients(self.recipients_email)
        if self.url is not None:
            _check_url(self.url)
        if self.routing_key is not None and (not isinstance(self.routing_key, str)
                                             or not _ROUTING_KEY.match(self.routing_key)):
            raise SpecError(f"routing_key must be a PagerDuty integration key (letters, "
                            f"digits, '-' or '_', at most 128), got {self.routing_key!r}")
        self._check_channel()

    def _check_channel(self) -> None:
        kind = self.kind
        if kind is NotificationKind.WEBHOOK:
            if self.url is None or self.recipients_email or self.routing_key is not None:
                raise SpecError("a webhook notification needs a url, and takes no "
                                "recipients_email or routing_key")
            return
        if kind is NotificationKind.EMAIL and (self.url is not None
                                               or self.routing_key is not None):
            raise SpecError("an email notification takes recipients_email only")
        if kind is NotificationKind.SLACK and self.routing_key is not None:
            raise SpecError("a slack notification takes recipients_email and webhook_url, "
                            "not routing_key")
        if kind is NotificationKind.PAGER_DUTY and self.url is not None:
            raise SpecError("a pager_duty notification takes recipients_email and "
                            "routing_key, not a url")
        if not self.recipients_email and self.url is None and self.routing_key is None:
            other = {NotificationKind.SLACK: " or a webhook_url",
                     NotificationKind.PAGER_DUTY: " or a routing_key"}.get(kind, "")
            raise SpecError(f"a {kind.value} notification needs recipients_email (at least "
                            f"one address){other}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"phases": [...], "<kind>": {...}}``, unset fields left out."""
        channel: dict[str, Any] = {}
        if self.recipients_email:
            channel["recipients_email"] = list(self.recipients_email)
        if self.url is not None:
            channel["url" if self.kind is NotificationKind.WEBHOOK else "webhook_url"] = \
                self.url
        if self.routing_key is not None:
            channel["routing_key"] = self.routing_key
        return {"phases": list(self.phases), self.kind.value: channel}

    @classmethod
    def from_dict(cls, data: Any) -> NotificationSpec:
        """Parse the JSON form; raises SpecError saying what is wrong."""
        kinds = [k.value for k in NotificationKind]
        if not isinstance(data, dict):
            raise SpecError(f"a notification must be an object with phases and one of "
                            f"{kinds}, got {type(data).__name__}")
        channels = [k for k in data if k != "phases"]
        if len(channels) != 1 or channels[0] not in kinds:
            raise SpecError(f"a notification must have phases and exactly one of {kinds}, "
                            f"got fields {sorted(data)}")
        kind = NotificationKind(channels[0])
        channel = data[kind.value]
        allowed = _CHANNEL_FIELDS[kind]
        if not isinstance(channel, dict) or set(channel) - set(allowed):
            raise SpecError(f"notification {kind.value} must be an object with only "
                            f"{list(allowed)}, got {channel!r}")
        url = channel.get("url", channel.get("webhook_url"))
        return cls(kind, _list(data.get("phases"), "phases"),
                   _list(channel.get("recipients_email", []), "recipients_email"), url,
                   channel.get("routing_key"))


_CHANNEL_FIELDS = {
    NotificationKind.EMAIL: ("recipients_email",),
    NotificationKind.SLACK: ("recipients_email", "webhook_url"),
    NotificationKind.PAGER_DUTY: ("recipients_email", "routing_key"),
    NotificationKind.WEBHOOK: ("url",),
}


def notifications_from_list(data: Any, where: str) -> tuple[NotificationSpec, ...]:
    """The notifications of a JSON list (None: none); SpecError names ``where`` and the
    position of the one at fault."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise SpecError(f"{where}: notifications must be a list, got {type(data).__name__}")
    parsed = []
    for i, item in enumerate(data):
        try:
            parsed.append(NotificationSpec.from_dict(item))
        except SpecError as e:
            raise SpecError(f"{where}: notifications[{i}]: {e}") from None
    return tuple(parsed)


def _list(value: Any, name: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise SpecError(f"notification {name} must be a list, got {value!r}")
    return tuple(value)


def _check_phases(phases: Any) -> None:
    if not isinstance(phases, tuple) or not phases:
        raise SpecError(f"a notification needs at least one phase of {list(TERMINAL_PHASES)}"
                        f", got {list(phases) if isinstance(phases, tuple) else phases!r}")
    for phase in phases:
        if phase not in TERMINAL_PHASES:
            raise SpecError(f"phase {phase!r} is not a terminal phase: notifications fire "
                            f"only when an execution ends, on {', '.join(TERMINAL_PHASES)}")
    if len(set(phases)) != len(phases):
        raise SpecError(f"phases {list(phases)} name a phase twice")


def _check_recipients(recipients: Any) -> None:
    if not isinstance(recipients, tuple) or len(recipients) > MAX_RECIPIENTS:
        raise SpecError(f"recipients_email must be a list of at most {MAX_RECIPIENTS} "
                        f"e-mail addresses, got {recipients!r}")
    for address in recipients:
        if not isinstance(address, str) or len(address) > 254 or not _EMAIL.match(address):
            raise SpecError(f"recipient {address!r} is not an e-mail address "
                            "(local-part@domain, no spaces, quotes or brackets)")


def _check_url(url: Any) -> None:
    if not isinstance(url, str) or len(url) > MAX_URL or not _URL.match(url):
        raise SpecError(f"url must be an http:// or https:// URL of at most {MAX_URL} "
                        f"characters, got {url!r}")
