"""Finding the code of a registered workflow or task in the driver, and compiling it.

The code is importable where the driver runs: from the execution's code bundle
(Ray's ``working_dir``, on ``sys.path``) or installed on the cluster. A task is found
by its spec's ``module`` and ``attribute``; a workflow by its name (``module.function``
unless it was given another, then among the modules of its tasks). What is found must
compile to exactly the registered spec: as compiled, or moved to the registered project,
domain and version (``engine.dag.versioning``: ``flyray register`` gives every entity
of a registration one version), else the execution fails with a SYSTEM error naming
where the two differ.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from collections import OrderedDict
from types import ModuleType
from typing import Any

from engine.core.image_spec import DEFAULT, Image, template_name, use_images
from engine.core.workflow import PythonFunctionWorkflow
from engine.dag.compiler import CompiledWorkflow
from engine.dag.spec import TaskSpec, WorkflowSpec
from engine.dag.spec.diff import json_diff
from engine.dag.versioning import Scope, moved_task, moved_workflow
from serve.errors import CodeLoadError

# Compiled workflows kept, most recently used last.
_KEEP = 256
_COMPILED: OrderedDict[tuple[str | None, str], CompiledWorkflow] = OrderedDict()
_LOCK = threading.Lock()


def compile_registered(workflow: dict[str, Any] | None, task: dict[str, Any] | None,
                       code_uri: str | None) -> CompiledWorkflow:
    """The compiled form of the registered ``workflow`` spec, or of ``task`` run alone
    (a one-node workflow). CodeLoadError says what cannot be loaded and how to fix it.

    An executor drives many executions of one version: what compiled once is kept (by
    the spec's text and the code bundle; a compiled workflow is plain data, which runs
    only read) and not loaded, compiled and compared again."""
    key = (code_uri, json.dumps([workflow, task], sort_keys=True))
    with _LOCK:
        compiled = _COMPILED.get(key)
        if compiled is not None:
            _COMPILED.move_to_end(key)
            return compiled
    compiled = _compile(workflow, task, code_uri)
    with _LOCK:
        _COMPILED[key] = compiled
        while len(_COMPILED) > _KEEP:
            _COMPILED.popitem(last=False)
    return compiled


def _compile(workflow: dict[str, Any] | None, task: dict[str, Any] | None,
             code_uri: str | None) -> CompiledWorkflow:
    where = f"the code bundle {code_uri}" if code_uri else "the cluster's Python path"
    if task is not None:
        spec = TaskSpec.from_dict(task)
        module = _import(spec.module, f"task '{spec.id.name}'", where)
        found = getattr(module, spec.attribute, None)
        if found is None or not hasattr(found, "spec") or not hasattr(
                found, "compile_as_workflow"):
            raise CodeLoadError(f"task '{spec.id.name}': module '{spec.module}' in {where} has "
                                f"no task named '{spec.attribute}'")
        with use_images(_registered_images([spec])):
            own = found.spec()
            _same_spec(f"task '{spec.id.name}'", (own, moved_task(own, Scope.of(spec.id))),
                       spec, where)
            compiled: CompiledWorkflow = found.compile_as_workflow()
        return compiled
    assert workflow is not None  # an execution runs a workflow or a task
    spec_ = WorkflowSpec.from_dict(workflow)
    name = spec_.id.name
    found_wf = _find_workflow(name, [t.module for t in spec_.tasks.values()], where)
    with use_images(_registered_images(list(spec_.tasks.values()))):
        compiled = found_wf.compile()
    _same_spec(f"workflow '{name}'",
               (compiled.spec, moved_workflow(compiled.spec, Scope.of(spec_.id))), spec_, where)
    return compiled


def _registered_images(specs: list[TaskSpec]) -> dict[str, Image]:
    """The images a registration compiled its tasks under (``flyray run --remote
    --image``), by name, as ``use_images`` takes them: for each task of ``specs`` whose code
    gives no image (the default one) or a ``{{.image.NAME.fullname}}`` template, the image
    its registered spec records. The code is imported already (the workflow was found)."""
    images: dict[str, Image] = {}
    for spec in specs:
        recorded = spec.metadata.image_spec or spec.metadata.container_image
        module = sys.modules.get(spec.module)
        declared = getattr(getattr(module, spec.attribute, None), "container_image", recorded)
        if recorded is None or declared == recorded:
            continue
        name = DEFAULT if declared is None else template_name(declared)
        if name is not None:
            images[name] = recorded
    return images


def _same_spec(what: str, found: tuple[TaskSpec, TaskSpec] | tuple[WorkflowSpec, WorkflowSpec],
               registered: TaskSpec | WorkflowSpec, where: str) -> None:
    """Raise unless one of ``found`` (the compiled spec, and it moved to the registered
    scope) is the registered spec."""
    if registered not in found:
        paths = min((json_diff(registered.to_dict(), f.to_dict()) for f in found), key=len)
        paths = paths or ["its text"]
        raise CodeLoadError(
            f"{what}: the code in {where} does not compile to the registered version "
            f"{registered.id.version} (it differs at {', '.join(paths[:10])}); register the "
            "code that runs, or run the version whose code is there")


def _import(module: str, what: str, where: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except Exception as e:  # the user's module may raise anything while it is imported
        raise CodeLoadError(f"{what}: cannot import module '{module}' from {where}: "
                            f"{type(e).__name__}: {e}") from e


def _find_workflow(name: str, task_modules: list[str], where: str) -> PythonFunctionWorkflow:
    parts = name.split(".")
    # 'pkg.mod.wf' is most likely wf in pkg.mod; a custom name is looked for in the
    # modules of the workflow's tasks.
    candidates = [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
    candidates += [m for m in dict.fromkeys(task_modules) if m not in candidates]
    errors: list[str] = []
    for candidate in candidates:
        try:
            module = importlib.import_module(candidate)
        except ModuleNotFoundError as e:
            if e.name is not None and candidate.startswith(e.name):
                continue  # not a module: try the next candidate
            errors.append(f"{candidate}: {type(e).__name__}: {e}")
            continue
        except Exception as e:  # the user's module may raise anything while imported
            errors.append(f"{candidate}: {type(e).__name__}: {e}")
            continue
        for value in vars(module).values():
            if isinstance(value, PythonFunctionWorkflow) and value.name == name:
                return value
    detail = f" (import errors: {'; '.join(errors)})" if errors else ""
    raise CodeLoadError(f"workflow '{name}': not found in {where}; looked in modules "
                        f"{', '.join(candidates) or 'none'}{detail}")
