"""LaunchPlan.get_or_create: fixed inputs stay fixed, defaults apply, plans are immutable."""

from __future__ import annotations

import pytest

from engine import LaunchPlan
from engine.errors import ConfigError, InputValueError
from tests.fixtures import launch_plan_wfs as wfs


@pytest.mark.usefixtures("ray_cluster")
def test_fixed_and_default_inputs_apply_when_launched() -> None:
    assert wfs.formal(name="Ada") == "Good evening, Ada!"
    assert wfs.defaulted() == "Hello, you!"
    assert wfs.defaulted(name="Bo", greeting="Hi") == "Hi, Bo!"


@pytest.mark.usefixtures("ray_cluster")
def test_launch_plans_inside_a_workflow() -> None:
    assert wfs.two_greetings(name="Cy") == ["Good evening, Cy!", "Hello, you!"]


def test_a_fixed_input_cannot_be_overridden() -> None:
    with pytest.raises(InputValueError, match=r"\['greeting'\] are fixed"):
        wfs.formal(name="Ada", greeting="Yo")


def test_get_or_create_returns_the_same_plan_and_refuses_a_changed_one() -> None:
    again = LaunchPlan.get_or_create(workflow=wfs.greeter, name="formal_greeter",
                                     fixed_inputs={"greeting": "Good evening"})
    assert again is wfs.formal
    with pytest.raises(ConfigError, match="immutable"):
        LaunchPlan.get_or_create(workflow=wfs.greeter, name="formal_greeter",
                                 fixed_inputs={"greeting": "Howdy"})
    assert LaunchPlan.get_or_create(wfs.greeter).name == wfs.greeter.name


def test_bad_inputs_and_schedules_are_rejected() -> None:
    with pytest.raises(ConfigError, match="'nope' is not an input"):
        LaunchPlan.get_or_create(workflow=wfs.greeter, name="bad", fixed_inputs={"nope": 1})
    with pytest.raises(ConfigError, match="expected str"):
        LaunchPlan.get_or_create(workflow=wfs.greeter, name="bad2", default_inputs={"name": 3})
    with pytest.raises(ConfigError, match="must be a CronSchedule or a FixedRate"):
        LaunchPlan.get_or_create(workflow=wfs.greeter, name="bad3", schedule=object())
