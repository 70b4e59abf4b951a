"""``create_node``: explicit nodes for ordering without data dependencies."""

from __future__ import annotations

from engine._later import later_function

create_node = later_function("create_node() (explicit nodes and >> ordering)")
