"""Notifications of launch plans, as flytekit's: checked when defined, recorded in the
launch plan's spec (a plan without them keeps its spec and version), and
``LaunchPlan.create``, flytekit's older constructor."""

from __future__ import annotations

from typing import Any

import pytest

from engine import LaunchPlan
from engine.core.notification import (
    Email,
    PagerDuty,
    Slack,
    Webhook,
    WorkflowExecutionPhase,
)
from engine.dag.spec import LaunchPlanSpec
from engine.errors import ConfigError, SpecError
from tests.fixtures import launch_plan_wfs as wfs

P = WorkflowExecutionPhase


def test_phases_have_flytekits_numbers_and_names() -> None:
    assert (P.SUCCEEDED, P.FAILED, P.ABORTED, P.TIMED_OUT) == (4, 6, 7, 8)
    assert P.enum_to_string(6) == "FAILED"
    assert P.enum_to_string(42) == "42"


def test_each_kind_records_its_channel_and_is_immutable() -> None:
    email = Email(phases=[P.SUCCEEDED, P.FAILED], recipients_email=["ops@example.com"])
    assert email.phases == [P.SUCCEEDED, P.FAILED]
    assert email.recipients_email == ["ops@example.com"]
    assert email == Email([4, "FAILED"], ["ops@example.com"])  # numbers and names too
    assert email != Slack([P.SUCCEEDED, P.FAILED], ["ops@example.com"])
    with pytest.raises(AttributeError, match="immutable"):
        email.phases = [P.FAILED]  # type: ignore[misc]
    assert Slack([P.FAILED], webhook_url="https://hooks.slack.test/T/B/x").webhook_url
    assert PagerDuty([P.TIMED_OUT], routing_key="R0ut1ng-key").routing_key == "R0ut1ng-key"
    assert Webhook([P.ABORTED], "http://127.0.0.1:8080/hook").url.endswith("/hook")


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: Email([P.RUNNING], ["a@example.com"]),
     "phase WorkflowExecutionPhase.RUNNING cannot be notified"),
    (lambda: Email([], ["a@example.com"]), "at least one phase"),
    (lambda: Email(P.FAILED, ["a@example.com"]), "phases must be a list"),
    (lambda: Email([P.FAILED, 6], ["a@example.com"]), "name a phase twice"),
    (lambda: Email([P.FAILED], "a@example.com"), r"write \['a@example.com'\]"),
    (lambda: Email([P.FAILED], []), "needs recipients_email"),
    (lambda: Email([P.FAILED], ["ops@example.com\r\nBcc: x@evil.test"]),
     "is not an e-mail address"),
    (lambda: Slack([P.FAILED]), "needs recipients_email .* or a webhook_url"),
    (lambda: Slack([P.FAILED], webhook_url="hooks.slack.com/x"), "http:// or https://"),
    (lambda: PagerDuty([P.FAILED], routing_key="no spaces"), "integration key"),
    (lambda: Webhook([P.FAILED], "file:///etc/passwd"), "http:// or https://"),
])
def test_bad_notifications_fail_when_defined(make: Any, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        make()


def test_a_launch_plan_records_its_notifications_in_its_spec() -> None:
    notifications = [
        Email([P.FAILED], ["ops@example.com"]),
        Slack([P.SUCCEEDED], ["chan@team.slack.com"]),
        PagerDuty([P.FAILED, P.TIMED_OUT], ["svc@acme.pagerduty.com"]),
        Webhook([P.SUCCEEDED, P.FAILED], "https://ci.example/hook"),
    ]
    plan = LaunchPlan.get_or_create(wfs.greeter, name="notified_greeter",
                                    default_inputs={"name": "you"},
                                    notifications=notifications)
    assert plan.notifications == tuple(notifications)
    data = plan.to_spec().to_dict()
    assert data["notifications"] == [
        {"phases": ["FAILED"], "email": {"recipients_email": ["ops@example.com"]}},
        {"phases": ["SUCCEEDED"], "slack": {"recipients_email": ["chan@team.slack.com"]}},
        {"phases": ["FAILED", "TIMED_OUT"],
         "pager_duty": {"recipients_email": ["svc@acme.pagerduty.com"]}},
        {"phases": ["SUCCEEDED", "FAILED"], "webhook": {"url": "https://ci.example/hook"}},
    ]
    assert LaunchPlanSpec.from_dict(data) == plan.to_spec()
    # The same definition again is the same plan; other notifications are another plan.
    assert LaunchPlan.get_or_create(wfs.greeter, name="notified_greeter",
                                    default_inputs={"name": "you"},
                                    notifications=list(notifications)) is plan
    with pytest.raises(ConfigError, match="immutable"):
        LaunchPlan.get_or_create(wfs.greeter, name="notified_greeter",
                                 default_inputs={"name": "you"},
                                 notifications=notifications[:1])


def test_a_plan_without_notifications_keeps_its_spec() -> None:
    data = wfs.formal.to_spec().to_dict()
    assert "notifications" not in data
    assert LaunchPlanSpec.from_dict(data).to_dict() == data


@pytest.mark.parametrize(("notifications", "expected"), [
    ({"phases": ["FAILED"]}, "exactly one of"),
    ([{"phases": ["RUNNING"], "email": {"recipients_email": ["a@b.example"]}}],
     r"notifications\[0\]: phase 'RUNNING' is not a terminal phase"),
    ([{"phases": ["FAILED"], "email": {"recipients_email": ["a@b.example"], "cc": []}}],
     "with only"),
    ([{"phases": ["FAILED"], "webhook": {}}], "needs a url"),
])
def test_bad_notifications_in_a_spec_are_refused(notifications: Any, expected: str) -> None:
    data = {**wfs.formal.to_spec().to_dict(), "notifications": notifications}
    if isinstance(notifications, dict):
        data["notifications"] = [notifications]
    with pytest.raises(SpecError, match=expected):
        LaunchPlanSpec.from_dict(data)


def test_notifications_must_be_a_list_of_notifications() -> None:
    email = Email([P.FAILED], ["ops@example.com"])
    with pytest.raises(ConfigError, match=r"write \[...\] around it"):
        LaunchPlan.get_or_create(wfs.greeter, name="one_notification", notifications=email)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="got dict"):
        LaunchPlan.get_or_create(wfs.greeter, name="dict_notification",
                                 notifications=[{"phases": [6]}])  # type: ignore[list-item]


def test_create_makes_a_plan_once() -> None:
    plan = LaunchPlan.create("created_greeter", wfs.greeter, fixed_inputs={"greeting": "Hi"},
                             notifications=[Email([P.FAILED], ["ops@example.com"])])
    assert plan.fixed_inputs == {"greeting": "Hi"}
    assert LaunchPlan.get_or_create(wfs.greeter, name="created_greeter",
                                    fixed_inputs={"greeting": "Hi"},
                                    notifications=plan.notifications) is plan
    with pytest.raises(ConfigError, match="already created"):
        LaunchPlan.create("created_greeter", wfs.greeter, fixed_inputs={"greeting": "Hi"})
