"""Importing a whole package tree and finding the tasks, workflows and launch plans in it.

``flyray register PATH`` and ``flyray run --remote FILE`` register a package, not one
file: a workflow in one module uses tasks from others (flyte#5492). PATH is

- a package directory (with ``__init__.py``): it and every module below it;
- a directory without ``__init__.py``: a source root, every module and package in it;
- a ``.py`` file: the package it belongs to, whole (or the file alone, outside one).

The source root is the directory that must be on ``sys.path`` for those modules to
import under their dotted names (found as flytekit does, by walking up while the
directories hold an ``__init__.py``); it is what the code bundle holds.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.core.launch_plan import LaunchPlan
from engine.core.reference import ReferenceTask
from engine.errors import FlyrayError

# Files that are programs, not modules: importing them would run them.
_NOT_IMPORTED = frozenset({"setup.py", "__main__.py", "conftest.py"})


class LoadError(FlyrayError):
    """The user's code cannot be imported, or what it defines cannot be registered."""


def module_name_for(path: Path) -> tuple[Path, str]:
    """The directory to put on sys.path and the dotted module name of ``path``.

    As flytekit does, the file's package is found by walking up while the
    directories hold an ``__init__.py``.
    """
    path = path.resolve()
    parts = [path.stem]
    root = path.parent
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    return root, ".".join(parts)


@dataclass(frozen=True)
class LoadedPackage:
    """What was imported from PATH, and from where."""

    root: Path  # the source root, put on sys.path
    modules: tuple[ModuleType, ...]  # every module of the tree, in import order
    target: ModuleType | None = None  # PATH's own module when PATH is a file


@dataclass
class Found:
    """Entities of a package tree by name (a name is unique in one registration)."""

    tasks: dict[str, Any] = field(default_factory=dict)
    workflows: dict[str, Any] = field(default_factory=dict)
    launch_plans: dict[str, LaunchPlan] = field(default_factory=dict)


def _importable(entry: Path) -> bool:
    """A package directory or a module file that can be imported by a dotted name."""
    if entry.is_dir():
        return entry.name.isidentifier() and (entry / "__init__.py").is_file()
    return (entry.suffix == ".py" and entry.stem.isidentifier()
            and entry.name not in _NOT_IMPORTED and entry.name != "__init__.py")


def _package_modules(directory: Path, dotted: str) -> list[str]:
    """Dotted names of the package at ``directory`` and everything below it."""
    names = [dotted]
    for entry in sorted(directory.iterdir()):
        if _importable(entry):
            names += (_package_modules(entry, f"{dotted}.{entry.name}") if entry.is_dir()
                      else [f"{dotted}.{entry.stem}"])
    return names


def _root_modules(root: Path) -> list[str]:
    """Dotted names of every module and package in a source root, and below."""
    names: list[str] = []
    for entry in sorted(root.iterdir()):
        if _importable(entry):
            names += (_package_modules(entry, entry.name) if entry.is_dir()
                      else [entry.stem])
    return names


def _import(name: str, root: Path) -> ModuleType:
    try:
        module = importlib.import_module(name)
    except FlyrayError:
        raise
    except Exception as e:
        raise LoadError(f"importing module '{name}' (from {root}) failed: "
                        f"{type(e).__name__}: {e}") from e
    where = getattr(module, "__file__", None)
    if where and not Path(where).resolve().is_relative_to(root):
        # Another module of that name was imported first: registering it would bundle
        # one tree and register the specs of another.
        raise LoadError(f"module '{name}' is imported from {where}, not from {root}; "
                        "rename one of the two, or register from a fresh process")
    return module


def load_package(path: str | os.PathLike[str]) -> LoadedPackage:
    """Import the package tree PATH names (see the module's docstring)."""
    given = Path(path)
    if not given.exists():
        raise LoadError(f"no such file or directory: {path}")
    target_name: str | None = None
    if given.is_file():
        if given.suffix != ".py":
            raise LoadError(f"{path} is not a Python file (.py) or a directory")
        root, target_name = module_name_for(given)
        package, _, _ = target_name.rpartition(".")
        names = _package_modules(given.resolve().parent, package) if package else [target_name]
    elif (given / "__init__.py").is_file():
        root, init = module_name_for(given / "__init__.py")
        names = _package_modules(given.resolve(), init.removesuffix(".__init__"))
    else:
        root = given.resolve()
        names = _root_modules(root)
        if not names:
            raise LoadError(f"{path} holds no Python module or package to register")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    modules = [_import(name, root) for name in names]
    target = _import(target_name, root) if target_name else None
    return LoadedPackage(root, tuple(modules), target)


def entity_kind(value: Any) -> str | None:
    """'task', 'workflow' or 'launch_plan' for what registration takes, else None."""
    if isinstance(value, LaunchPlan):
        return "launch_plan"
    if isinstance(value, ReferenceTask) or not getattr(value, "_flyray_entity", False):
        return None  # references name entities registered elsewhere
    if hasattr(value, "compile"):
        return "workflow"
    return "task" if hasattr(value, "spec") else None


def find_entities(modules: tuple[ModuleType, ...] | list[ModuleType]) -> Found:
    """Every task, workflow and launch plan that is an attribute of one of ``modules``.

    An entity imported into several modules counts once; two different entities of one
    name are an error (they would be registered under the same identifier).
    """
    found = Found()
    for module in modules:
        for attribute, value in sorted(vars(module).items()):
            kind = entity_kind(value)
            if kind is None:
                continue
            table: dict[str, Any] = {"task": found.tasks, "workflow": found.workflows,
                                     "launch_plan": found.launch_plans}[kind]
            known = table.get(value.name)
            if known is not None and known is not value:
                raise LoadError(
                    f"two different {kind.replace('_', ' ')}s are named '{value.name}' (one "
                    f"is {module.__name__}.{attribute}); give one another name")
            table[value.name] = value
    return found


def found_for(entity: Any) -> Found:
    """One local task, workflow or launch plan, as registration takes it (what it uses
    is planned with it)."""
    kind = entity_kind(entity)
    if kind is None:
        raise LoadError(f"{entity!r} is not a task, workflow or launch plan that can be "
                        "registered (a reference names one registered elsewhere: fetch it "
                        "instead)")
    found = Found()
    {"task": found.tasks, "workflow": found.workflows,
     "launch_plan": found.launch_plans}[kind][entity.name] = entity
    return found


def _defining_module(entity: Any) -> str:
    owner = entity.workflow if isinstance(entity, LaunchPlan) else entity
    fn = getattr(owner, "fn", None)
    module = getattr(fn, "__module__", None)
    if module is None and hasattr(owner, "spec"):
        module = owner.spec().module
    if not isinstance(module, str):
        raise LoadError(f"cannot tell which module defines {entity!r}; register its package "
                        "with register_package(path) instead")
    return module


def source_root_of(entity: Any, source_path: str | os.PathLike[str] | None = None) -> Path:
    """The source root whose bundle holds the code of ``entity``: the directory it imports
    from, ``source_path`` when given (it must then hold the entity's module)."""
    name = _defining_module(entity)
    what = f"'{entity.name}'"
    if name == "__main__":
        raise LoadError(f"{what} is defined in the script being run (__main__); the cluster "
                        "imports code by module name, so define it in a module that the "
                        "script imports")
    where = getattr(sys.modules.get(name), "__file__", None)
    if not where:
        raise LoadError(f"{what} is defined in module '{name}', which has no source file to "
                        "bundle")
    file = Path(where).resolve()
    if source_path is None:
        root, dotted = module_name_for(file)
    else:
        root = Path(source_path).resolve()
        if not file.is_relative_to(root):
            raise LoadError(f"{what} is defined in {file}, outside source_path {root}")
        parts = list(file.relative_to(root).with_suffix("").parts)
        dotted = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    if dotted != name:
        raise LoadError(f"module '{name}' ({file}) imports as '{dotted}' from the source root "
                        f"{root}; pass as source_path the directory it is imported from")
    return root
