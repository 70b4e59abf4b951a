"""Task kinds of flytekit not implemented yet in Flyray."""

from __future__ import annotations

from engine._later import LaterClass


class ImageSpec(LaterClass):
    feature = "ImageSpec"
