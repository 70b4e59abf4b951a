"""Control-flow and task kinds of flytekit not implemented yet in Flyray."""

from __future__ import annotations

from engine._later import LaterClass, later_function

reference_task = later_function("reference_task()")
reference_launch_plan = later_function("reference_launch_plan()")


class ImageSpec(LaterClass):
    feature = "ImageSpec"


class ContainerTask(LaterClass):
    feature = "ContainerTask"
