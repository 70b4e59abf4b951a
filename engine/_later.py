"""Names of flytekit's API that Flyray has not implemented yet.

They exist so that flytekit code imports unchanged; using one raises
:class:`NotYetSupportedError` naming the feature, never does nothing silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from engine.errors import NotYetSupportedError


def later_function(feature: str) -> Callable[..., NoReturn]:
    def not_yet(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotYetSupportedError(feature)

    not_yet.__doc__ = f"{feature}: not implemented yet."
    return not_yet


class LaterClass:
    """Base of placeholder classes: constructing one raises."""

    feature = "this feature"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotYetSupportedError(self.feature)
