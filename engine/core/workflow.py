"""``@workflow``: a function whose body is traced once into a DAG and run on Ray."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, overload

from engine.config import chosen_namespace, current_namespace
from engine.core.image_spec import Image, images_key
from engine.dag.compiler import (
    CompiledWorkflow,
    add_subworkflow_node,
    compile_workflow,
)
from engine.dag.spec import WorkflowFailurePolicy
from engine.dag.trace import is_compiling
from engine.errors import NotYetSupportedError
from engine.types.interface import PythonInterface, bind_inputs, entity_name, extract_interface


class PythonFunctionWorkflow:
    """A workflow object. Calling it compiles (once) and runs it, returning its outputs."""

    _flyray_entity = True

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None,
        failure_policy: WorkflowFailurePolicy = WorkflowFailurePolicy.FAIL_IMMEDIATELY,
        on_failure: Any = None,
    ) -> None:
        self.fn = fn
        self.failure_policy = WorkflowFailurePolicy(failure_policy)
        self.on_failure = on_failure
        self.name = name or entity_name(fn)
        self.python_interface: PythonInterface = extract_interface(fn, f"workflow '{self.name}'")
        # By namespace() block (None: the settings' project and domain) and the images in
        # use (a run's --image changes its tasks' specs).
        self._compiled: dict[tuple[tuple[str, str] | None, tuple[tuple[str, Image], ...]],
                             CompiledWorkflow] = {}
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<workflow {self.name}>"

    def compile(self) -> CompiledWorkflow:
        """Trace the body into a spec; every binding is type-checked here."""
        chosen = chosen_namespace()
        key = (chosen, images_key())
        compiled = self._compiled.get(key)
        if compiled is None:
            project, domain = chosen or current_namespace()
            compiled = compile_workflow(
                self.name, self.fn, self.python_interface, project, domain,
                self.failure_policy, self.on_failure,
            )
            self._compiled[key] = compiled
        return compiled

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Inputs by name with defaults applied, each checked against its type."""
        return bind_inputs(f"workflow '{self.name}'", self.python_interface, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if is_compiling():
            return add_subworkflow_node(self.compile(), args, kwargs)
        # The executor imports Ray: loaded by the first run, so that defining workflows
        # (and the CLI's --help, which loads the user's file) does not pay for it.
        from engine.dag.run.executor import run

        return run(self.compile(), self.bind_inputs(args, kwargs)).outputs


_LATER_OPTIONS = {"interruptible", "docs", "pickle_untyped", "default_options"}


@overload
def workflow(_workflow_function: Callable[..., Any]) -> PythonFunctionWorkflow: ...


@overload
def workflow(
    _workflow_function: None = None, **kwargs: Any
) -> Callable[[Callable[..., Any]], PythonFunctionWorkflow]: ...


def workflow(
    _workflow_function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    failure_policy: WorkflowFailurePolicy = WorkflowFailurePolicy.FAIL_IMMEDIATELY,
    on_failure: Any = None,
    **later: Any,
) -> Any:
    """Declare a workflow, with or without arguments, as flytekit's ``@workflow``.

    The body runs once, at compile time, with promises in place of values: it
    wires task calls together; it does not compute.

    Args:
        name: the workflow's name, by default ``module.function``.
        failure_policy: FAIL_IMMEDIATELY (default) cancels pending nodes when one
            fails; FAIL_AFTER_EXECUTABLE_NODES_COMPLETE lets independent ones finish.
        on_failure: a task run when the workflow fails, with the workflow's inputs of
            the same names and, as ``err``, an ``engine.types.error.FlyteError``.
    """
    unknown = set(later) - _LATER_OPTIONS
    if unknown:
        raise TypeError(f"@workflow got unexpected option(s) {', '.join(sorted(unknown))}")
    set_later = sorted(k for k, v in later.items() if v is not None)
    if set_later:
        raise NotYetSupportedError("@workflow option(s) " + ", ".join(set_later))

    def wrap(fn: Callable[..., Any]) -> PythonFunctionWorkflow:
        return PythonFunctionWorkflow(fn, name=name, failure_policy=failure_policy,
                                      on_failure=on_failure)

    if _workflow_function is not None:
        return wrap(_workflow_function)
    return wrap
