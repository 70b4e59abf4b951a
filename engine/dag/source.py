"""Where in the user's source something happened, for error messages."""

from __future__ import annotations

import sys
from pathlib import Path

_ENGINE_DIR = str(Path(__file__).resolve().parent.parent)


def call_site() -> str:
    """``file.py:line`` of the innermost caller outside the engine package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_ENGINE_DIR):
            return f"{Path(filename).name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"
