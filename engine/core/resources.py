"""flytekit's path to resource requests (``flytekit.core.resources``); they live in
:mod:`engine.dag.resources`, beside the spec that stores them."""

from __future__ import annotations

from engine.dag.resources import Resources, Secret

__all__ = ["Resources", "Secret"]
