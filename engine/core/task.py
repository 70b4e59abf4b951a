"""``@task``: a typed Python function that runs as one Ray task per workflow node."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from engine.config import current_namespace
from engine.core.base_task import Interface, PythonTask, routed_call
from engine.core.image_spec import Image, image_fields
from engine.core.task_spec import cached_spec
from engine.dag.compiler import (
    CompiledWorkflow,
    compile_workflow,
)
from engine.dag.resources import Resources, Secret, secret_requests_spec
from engine.dag.spec import TaskMetadata, TaskSpec
from engine.deck.deck import DEFAULT_FIELDS, DeckField
from engine.errors import ConfigError, InterfaceError, NotYetSupportedError
from engine.types.interface import (
    PythonInterface,
    bind_inputs,
    entity_name,
    extract_interface,
)
from engine.types.type_engine import TypeEngine

F = TypeVar("F", bound=Callable[..., Any])


class PythonFunctionTask:
    """A task object; the user's function stays callable untouched as ``.fn``.

    Called inside a ``@workflow`` it records a node and returns promises; called
    anywhere else it runs the function in-process like a plain call.
    """

    _flyray_entity = True

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = False,
        cache_version: str = "",
        cache_serialize: bool = False,
        cache_ignore_input_vars: tuple[str, ...] = (),
        retries: int = 0,
        timeout: int | float | dt.timedelta | None = None,
        requests: Resources | None = None,
        limits: Resources | None = None,
        secret_requests: list[Secret] | None = None,
        container_image: Image | None = None,
        environment: dict[str, str] | None = None,
        interruptible: bool | None = None,
        enable_deck: bool = False,
        deck_fields: tuple[DeckField | str, ...] = DEFAULT_FIELDS,
    ) -> None:
        self.fn = fn
        self.name = name or entity_name(fn)
        what = f"task '{self.name}'"
        self.python_interface: PythonInterface = extract_interface(fn, what)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError(f"{what}: retries must be a whole number >= 0, got {retries!r}")
        if isinstance(timeout, dt.timedelta):
            timeout_s: float | None = timeout.total_seconds()
        elif timeout is None or isinstance(timeout, (int, float)):
            timeout_s = float(timeout) if timeout is not None else None
        else:
            raise ConfigError(f"{what}: timeout must be seconds or a timedelta, got {timeout!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError(f"{what}: timeout must be positive, got {timeout!r}")
        if cache and not cache_version:
            raise ConfigError(
                f"{what}: cache=True needs a cache_version, e.g. @task(cache=True, "
                "cache_version='1.0')"
            )
        unknown = set(cache_ignore_input_vars) - set(self.python_interface.inputs)
        if unknown:
            raise ConfigError(f"{what}: cache_ignore_input_vars names unknown input(s) "
                              f"{sorted(unknown)}; inputs are {list(self.python_interface.inputs)}")
        reqs = (requests or Resources()).to_spec(f"{what}: requests")
        lims = (limits or Resources()).to_spec(f"{what}: limits")
        self.metadata = TaskMetadata(
            cache=cache,
            cache_version=cache_version,
            retries=retries,
            timeout_s=timeout_s,
            interruptible=bool(interruptible),
            requests=reqs,
            limits=lims,
            secrets=secret_requests_spec(what, secret_requests),
            **image_fields(container_image),
            environment=tuple(sorted((environment or {}).items())),
            cache_serialize=cache_serialize,
            cache_ignore_input_vars=tuple(cache_ignore_input_vars),
            deck_fields=_deck_fields(what, deck_fields) if enable_deck else None,
        )
        # As given: the images of a run (flyray run --image) may stand for it in the spec.
        self.container_image = container_image
        # By namespace() block (None: the settings' project and domain), paired with the
        # images in use when there are some.
        self._specs: dict[object, TaskSpec] = {}
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return routed_call(self, args, kwargs, lambda: self.fn(*args, **kwargs))

    def spec(self) -> TaskSpec:
        """The task's spec; its version hashes the spec and the function's source."""
        return cached_spec(self._specs, self.name, self.python_interface, self.metadata,
                           self.container_image,
                           lambda: (self.fn.__module__, self.fn.__name__),
                           lambda: _source_of(self.fn))

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        """Call the function; return its outputs in order, checked against the interface."""
        returned = self.fn(**inputs)
        what = f"task '{self.name}'"
        values = self.python_interface.unpack_outputs(returned, what)
        for (name, t), value in zip(self.python_interface.outputs.items(), values, strict=True):
            reason = TypeEngine.check(value, t)
            if reason:
                raise InterfaceError(f"{what} returned a bad value for output '{name}': {reason}")
        return values

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Inputs by name with defaults applied, each checked against its type."""
        return bind_inputs(f"task '{self.name}'", self.python_interface, args, kwargs)

    def compile_as_workflow(self) -> CompiledWorkflow:
        """A one-node workflow running this task, to run the task alone on Ray."""

        def body(**kwargs: Any) -> Any:
            return self(**kwargs)

        project, domain = current_namespace()
        return compile_workflow(self.name, body, self.python_interface, project, domain)

    def with_overrides(self, **_: Any) -> PythonFunctionTask:
        raise NotYetSupportedError("with_overrides() on task nodes")


def _deck_fields(what: str, fields: tuple[DeckField | str, ...]) -> tuple[str, ...]:
    try:
        return tuple(DeckField(f).value for f in fields)
    except ValueError:
        raise ConfigError(f"{what}: deck_fields takes DeckField values "
                          f"({', '.join(f.name for f in DeckField)}), got {fields!r}") from None


def _source_of(fn: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return fn.__code__.co_code.hex()


# flytekit's @task options that Flyray does not implement yet.
_LATER_OPTIONS = {
    "deprecated", "task_config", "pod_template",
    "pod_template_name", "accelerator", "docs", "execution_mode",
    "node_dependency_hints", "task_resolver", "labels", "annotations", "shared_memory",
}


@overload
def task(_task_function: F) -> PythonFunctionTask: ...


@overload
def task(
    _task_function: None = None, **kwargs: Any
) -> Callable[[F], PythonFunctionTask]: ...


def task(
    _task_function: Callable[..., Any] | None = None,
    *,
    cache: bool = False,
    cache_version: str = "",
    cache_serialize: bool = False,
    cache_ignore_input_vars: tuple[str, ...] = (),
    retries: int = 0,
    interruptible: bool | None = None,
    timeout: int | float | dt.timedelta | None = None,
    container_image: Image | None = None,
    environment: dict[str, str] | None = None,
    requests: Resources | None = None,
    limits: Resources | None = None,
    secret_requests: list[Secret] | None = None,
    name: str | None = None,
    enable_deck: bool = False,
    deck_fields: tuple[DeckField | str, ...] = DEFAULT_FIELDS,
    **unsupported: Any,
) -> Any:
    """Declare a task, with or without arguments, as flytekit's ``@task``.

    Args:
        cache: memoize results in the data catalog (needs ``cache_version``).
        cache_version: bump it to invalidate cached results.
        cache_serialize: concurrent runs with the same inputs compute once; others wait.
        cache_ignore_input_vars: inputs that do not count in the cache key.
        retries: extra attempts after a user or system failure.
        interruptible: recorded; Ray has no preemptible workers to map it onto.
        timeout: seconds or a timedelta; an attempt running longer is stopped.
        container_image: an image name, recorded in the spec (the task runs in the
            cluster's Python), or an ``ImageSpec``: the task runs in its Ray runtime
            environment (pip packages, environment variables, a base image).
        environment: environment variables set while the task runs.
        requests: resources Ray reserves for the task (cpu, mem, gpu).
        limits: ceilings, as in Flyte: what is not requested gets the default (1 CPU, no
            memory reservation) capped by them; a GPU limit reserves that many GPUs.
        secret_requests: secrets the task reads through ``current_context()``.
        name: the task's name, by default ``module.function``.
        enable_deck: each attempt writes a deck document (``engine.deck``): the
            ``deck_fields`` Flyray renders and the decks the task makes.
        deck_fields: which of Flyray's decks (``DeckField``) it holds; flytekit's
            default is all of them.
    """
    unknown = set(unsupported) - _LATER_OPTIONS
    if unknown:
        raise TypeError(f"@task got unexpected option(s) {', '.join(sorted(unknown))}")
    if unsupported:
        raise NotYetSupportedError("@task option(s) " + ", ".join(sorted(unsupported)))

    def wrap(fn: Callable[..., Any]) -> PythonFunctionTask:
        return PythonFunctionTask(
            fn,
            name=name,
            cache=cache,
            cache_version=cache_version,
            cache_serialize=cache_serialize,
            cache_ignore_input_vars=tuple(cache_ignore_input_vars),
            retries=retries,
            timeout=timeout,
            requests=requests,
            limits=limits,
            secret_requests=secret_requests,
            container_image=container_image,
            environment=environment,
            interruptible=interruptible,
            enable_deck=enable_deck,
            deck_fields=tuple(deck_fields),
        )

    if _task_function is not None:
        return wrap(_task_function)
    return wrap


class Echo(PythonTask[None]):
    """A task whose outputs are its inputs, as flytekit's ``Echo``: an arm of a
    ``conditional`` that passes a value through, without a task of your own.

    Usage::

        echo = Echo(name="echo", inputs={"a": typing.Optional[float]})

    Its node reserves no CPU (Flyte runs it without a pod); it is a tiny attempt of its
    own, recorded like any other node.
    """

    _TASK_TYPE = "echo"

    def __init__(self, name: str, inputs: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        outputs = dict(inputs) if inputs else None
        super().__init__(task_type=self._TASK_TYPE, name=name,
                         interface=Interface(inputs=inputs, outputs=outputs),
                         requests=Resources(cpu=0), **kwargs)

    def execute(self, **kwargs: Any) -> Any:
        values = list(kwargs.values())
        return values[0] if len(values) == 1 else tuple(values)
