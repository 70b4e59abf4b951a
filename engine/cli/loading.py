"""Loading a user's Python file and finding the tasks and workflows in it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.core.task import PythonFunctionTask
from engine.core.workflow import PythonFunctionWorkflow
from engine.errors import FlyrayError
from engine.remote.packages import LoadError, module_name_for

__all__ = ["LoadError", "entities", "load_module", "module_name_for"]


def load_module(file: str) -> ModuleType:
    """Import the user's file so that Ray workers can run what it defines.

    The module is pickled by value, so workers on any node get its code without it
    being installed there.
    """
    path = Path(file)
    if not path.is_file():
        raise LoadError(f"no such file: {file}")
    if path.suffix != ".py":
        raise LoadError(f"{file} is not a Python file (.py)")
    root, name = module_name_for(path)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except FlyrayError:
        raise
    except Exception as e:
        raise LoadError(f"importing {file} failed: {type(e).__name__}: {e}") from e
    from ray import cloudpickle  # Ray: imported by a run, not by the CLI's import

    cloudpickle.register_pickle_by_value(module)
    return module


def entities(module: ModuleType) -> dict[str, Any]:
    """Tasks and workflows defined in ``module`` by attribute name, workflows first."""
    found = {
        k: v for k, v in vars(module).items()
        if isinstance(v, (PythonFunctionTask, PythonFunctionWorkflow))
        and getattr(v.fn, "__module__", None) == module.__name__
    }
    return dict(sorted(found.items(), key=lambda kv: isinstance(kv[1], PythonFunctionTask)))
