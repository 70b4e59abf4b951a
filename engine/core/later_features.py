"""Control-flow and task kinds of flytekit not implemented yet in Flyray."""

from __future__ import annotations

import enum

from engine._later import LaterClass, later_function

dynamic = later_function("@dynamic")
eager = later_function("@eager")
map_task = later_function("map_task()")
conditional = later_function("conditional()")
reference_task = later_function("reference_task()")
reference_launch_plan = later_function("reference_launch_plan()")


class WorkflowFailurePolicy(enum.Enum):
    """How a workflow reacts to a failed node (only FAIL_IMMEDIATELY is implemented)."""

    FAIL_IMMEDIATELY = "FAIL_IMMEDIATELY"
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"


class ImageSpec(LaterClass):
    feature = "ImageSpec"


class Workflow(LaterClass):
    feature = "the imperative Workflow builder"


class ContainerTask(LaterClass):
    feature = "ContainerTask"
