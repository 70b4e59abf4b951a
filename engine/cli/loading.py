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

__all__ = ["LoadError", "entities", "import_file", "load_module", "module_name_for",
           "ship_by_value"]


def load_module(file: str) -> ModuleType:
    """Import the user's file and have Ray ship it by value (:func:`ship_by_value`)."""
    module = import_file(file)
    ship_by_value(module.__name__)
    return module


def import_file(file: str) -> ModuleType:
    """Import the user's file as a module of its package, with its root on ``sys.path``.

    Imports no Ray: ``flyray run FILE NAME --help`` loads the file this way.
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
        return importlib.import_module(name)
    except FlyrayError:
        raise
    except Exception as e:
        raise LoadError(f"importing {file} failed: {type(e).__name__}: {e}") from e


def ship_by_value(module_name: str) -> None:
    """Have Ray pickle the imported module ``module_name`` by value, so that workers on
    any node get its code without it being installed there.

    Imports Ray: called when a run starts, not when the CLI only shows help.
    """
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[module_name])


def entities(module: ModuleType) -> dict[str, Any]:
    """Tasks and workflows defined in ``module`` by attribute name, workflows first."""
    found = {
        k: v for k, v in vars(module).items()
        if isinstance(v, (PythonFunctionTask, PythonFunctionWorkflow))
        and getattr(v.fn, "__module__", None) == module.__name__
    }
    return dict(sorted(found.items(), key=lambda kv: isinstance(kv[1], PythonFunctionTask)))
