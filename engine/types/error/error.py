"""``FlyteError``, at flytekit's module path: what an ``on_failure`` handler receives."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FlyteError:
    """The failure of a workflow, given to its ``on_failure`` handler as ``err``.

    Attributes:
        message: the error, with the failed task's traceback.
        failed_node_id: the node that failed.
    """

    message: str
    failed_node_id: str
