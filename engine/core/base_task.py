"""``PythonTask``: a task written as a class, as flytekit's ``flytekit.core.base_task``.

    class Square(PythonTask[None]):
        def __init__(self, name: str) -> None:
            super().__init__(task_type="square", name=name,
                             interface=Interface(inputs={"x": int}, outputs={"o0": int}))

        def execute(self, **kwargs: Any) -> int:
            return kwargs["x"] ** 2

    square = Square(name="square")

An instance is a task like a ``@task`` function: called in a ``@workflow`` it records a
node, whose attempts run ``execute`` in a Ray worker (the instance travels there pickled,
its class by value with the user's module as function tasks do); called anywhere else
it runs ``execute`` in-process. Plugins (``SQLTask``, ``SQLite3Task``, ``Echo``) are
subclasses. ``TaskMetadata`` holds flytekit's per-task options (cache, retries, timeout).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import inspect
import json
import sys
import typing
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Generic, TypeVar

from engine.config import current_namespace
from engine.core.image_spec import Image, image_fields
from engine.core.task_spec import cached_spec
from engine.dag.compiler import CompiledWorkflow, add_task_node, compile_workflow
from engine.dag.resources import Resources, Secret, secret_requests_spec
from engine.dag.run import stand_ins
from engine.dag.run.context import EAGER_SUBMIT, ExecutionParameters, current_context
from engine.dag.spec import TaskMetadata as MetadataSpec
from engine.dag.spec import TaskSpec
from engine.dag.trace import is_compiling
from engine.errors import ConfigError, InterfaceError, NotYetSupportedError
from engine.types.interface import (
    PythonInterface,
    bind_inputs,
    default_named_tuple,
    to_spec_interface,
)
from engine.types.type_engine import TypeEngine

T = TypeVar("T")

__all__ = ["Interface", "PythonTask", "TaskMetadata"]


@dataclasses.dataclass
class TaskMetadata:
    """Per-task options, as flytekit's ``TaskMetadata`` (given as ``metadata=``).

    Attributes:
        cache: memoize results in the data catalog (needs ``cache_version``).
        cache_serialize: concurrent runs with the same inputs compute once.
        cache_version: bump it to invalidate cached results.
        cache_ignore_input_vars: inputs that do not count in the cache key.
        interruptible: recorded; Ray has no preemptible workers to map it onto.
        deprecated: a message; recorded nowhere (flytekit warns at registration).
        retries: extra attempts after a failure.
        timeout: seconds or a timedelta; an attempt running longer is stopped.
        pod_template_name: Kubernetes only; must stay unset.
        generates_deck: whether the task writes decks.
        is_eager: set by flytekit for eager tasks; must stay False here.
    """

    cache: bool = False
    cache_serialize: bool = False
    cache_version: str = ""
    cache_ignore_input_vars: tuple[str, ...] = ()
    interruptible: bool | None = None
    deprecated: str = ""
    retries: int = 0
    timeout: dt.timedelta | int | None = None
    pod_template_name: str | None = None
    generates_deck: bool = False
    is_eager: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.timeout, int) and not isinstance(self.timeout, bool):
            self.timeout = dt.timedelta(seconds=self.timeout)
        elif self.timeout is not None and not isinstance(self.timeout, dt.timedelta):
            raise ConfigError("TaskMetadata: timeout must be whole seconds (int) or a "
                              f"datetime.timedelta, got {self.timeout!r}")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) \
                or self.retries < 0:
            raise ConfigError(f"TaskMetadata: retries must be a whole number >= 0, got "
                              f"{self.retries!r}")
        if self.cache and not self.cache_version:
            raise ConfigError("TaskMetadata: cache=True needs a cache_version, e.g. "
                              "TaskMetadata(cache=True, cache_version='1.0')")
        if self.cache_serialize and not self.cache:
            raise ConfigError("TaskMetadata: cache_serialize=True needs cache=True")
        if self.cache_ignore_input_vars and not self.cache:
            raise ConfigError("TaskMetadata: cache_ignore_input_vars needs cache=True")
        if self.pod_template_name is not None:
            raise NotYetSupportedError("TaskMetadata(pod_template_name=...): Flyray runs "
                                       "tasks on Ray, not in Kubernetes pods")
        if self.is_eager:
            raise NotYetSupportedError("TaskMetadata(is_eager=True): declare eager tasks "
                                       "with @eager")

    @property
    def timeout_s(self) -> float | None:
        """The timeout in seconds (None: no timeout)."""
        if isinstance(self.timeout, dt.timedelta):
            return self.timeout.total_seconds() or None
        return None


class Interface:
    """Typed inputs and outputs of a class-based task, as flytekit's ``Interface``.

    Args:
        inputs: name -> type, or name -> ``(type, default)``; a default of None means
            none (flytekit's rule), except for an ``Optional`` type, where it is None.
        outputs: name -> type, in the order the task returns them.
        output_tuple_name: the name of the NamedTuple several outputs are returned as.
    """

    def __init__(self, inputs: Mapping[str, Any] | None = None,
                 outputs: Mapping[str, Any] | None = None,
                 output_tuple_name: str | None = None, docstring: Any = None) -> None:
        self._inputs: dict[str, tuple[Any, Any]] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, tuple) and len(value) == 2:
                self._inputs[name] = (value[0], value[1])
            else:
                self._inputs[name] = (value, None)
        self._outputs: dict[str, Any] = dict(outputs or {})
        self._output_tuple_name = output_tuple_name
        self.docstring = docstring

    @property
    def inputs(self) -> dict[str, Any]:
        return {name: t for name, (t, _) in self._inputs.items()}

    @property
    def inputs_with_defaults(self) -> dict[str, tuple[Any, Any]]:
        return dict(self._inputs)

    @property
    def default_inputs_as_kwargs(self) -> dict[str, Any]:
        return {name: d for name, (_, d) in self._inputs.items() if d is not None}

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self._outputs)

    @property
    def output_tuple_name(self) -> str | None:
        return self._output_tuple_name

    @property
    def output_tuple(self) -> type | None:
        """The NamedTuple class of several outputs; None for zero or one."""
        names = list(self._outputs)
        if len(names) < 2:
            return None
        if self._output_tuple_name:
            return collections.namedtuple(self._output_tuple_name, names)  # type: ignore[misc]
        return default_named_tuple(names)

    def to_python_interface(self) -> PythonInterface:
        """The engine's form: defaults as flytekit reads them (see the class docstring)."""
        defaults = {name: d for name, (t, d) in self._inputs.items()
                    if d is not None or _is_optional(t)}
        return PythonInterface(self.inputs, defaults, self.outputs, self.output_tuple)

    def __repr__(self) -> str:
        return f"Interface(inputs={self.inputs}, outputs={self.outputs})"


def _is_optional(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, getattr(typing, "UnionType", None)) \
        and type(None) in typing.get_args(t)


# flytekit options of PythonTask that Flyray does not implement yet: set, they raise.
_LATER = {"security_ctx", "docs", "disable_deck", "enable_deck", "deck_fields",
          "pod_template", "pod_template_name", "accelerator", "shared_memory"}


class PythonTask(Generic[T]):
    """Base class of tasks written as classes (see the module docstring).

    Subclasses override :meth:`execute`; :meth:`pre_execute` and :meth:`post_execute`
    run around it in the attempt, as in flytekit.
    """

    _flyray_entity = True

    def __init__(
        self,
        task_type: str,
        name: str,
        task_config: T | None = None,
        interface: Interface | None = None,
        environment: dict[str, str] | None = None,
        metadata: TaskMetadata | None = None,
        *,
        requests: Resources | None = None,
        limits: Resources | None = None,
        secret_requests: list[Secret] | None = None,
        container_image: Image | None = None,
        task_type_version: int = 0,
        **options: Any,
    ) -> None:
        """Declare the task; arguments are flytekit's, checked here.

        Args:
            task_type: the plugin's kind, recorded (e.g. "sqlite").
            name: the task's name, unique in its project and domain.
            task_config: the plugin's configuration, kept as ``task_config``.
            interface: typed inputs and outputs (none: a task of no inputs or outputs).
            environment: variables set while ``execute`` runs.
            metadata: cache, retries, timeout, ... (see :class:`TaskMetadata`).
            requests: resources Ray reserves for an attempt.
            limits: used as the request where no request is given.
            secret_requests: secrets ``execute`` reads through ``current_context()``.
            container_image: as ``@task``'s (an ``ImageSpec`` becomes the Ray runtime
                environment of the attempts).
        """
        what = f"task '{name}'"
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{type(self).__name__}: name must be a non-empty string, "
                              f"got {name!r}")
        unknown = set(options) - _LATER
        if unknown:
            raise TypeError(f"{what}: unexpected option(s) {', '.join(sorted(unknown))}")
        later = sorted(k for k, v in options.items() if v not in (None, False))
        if later:
            raise NotYetSupportedError(f"{what}: option(s) {', '.join(later)}")
        if interface is not None and not isinstance(interface, Interface):
            raise ConfigError(f"{what}: interface must be an engine.extend.Interface, e.g. "
                              f"Interface(inputs={{'x': int}}, outputs={{'o0': int}}), got "
                              f"{interface!r}")
        if metadata is not None and not isinstance(metadata, TaskMetadata):
            raise ConfigError(f"{what}: metadata must be a TaskMetadata, got {metadata!r}")
        self._task_type = task_type
        self.name = name
        self._task_config = task_config
        self._task_type_version = task_type_version
        self._interface = interface or Interface()
        self.python_interface: PythonInterface = self._interface.to_python_interface()
        to_spec_interface(self.python_interface, what)  # fail now on unsupported types
        self._metadata = metadata or TaskMetadata()
        self._environment = dict(environment or {})
        self.container_image = container_image
        self._secret_requests = list(secret_requests or ())
        self._spec_metadata = _metadata_spec(what, self.python_interface, self._metadata,
                                             requests, limits, self._secret_requests,
                                             container_image, self._environment)
        self._module = _defining_module(self)
        # By namespace() block (None: the settings' project and domain), paired with the
        # images in use when there are some.
        self._specs: dict[object, TaskSpec] = {}

    # --- flytekit's properties ----------------------------------------------------------

    @property
    def task_type(self) -> str:
        return self._task_type

    @property
    def task_type_version(self) -> int:
        return self._task_type_version

    @property
    def task_config(self) -> T | None:
        return self._task_config

    @property
    def interface(self) -> Interface:
        return self._interface

    @property
    def metadata(self) -> TaskMetadata:
        return self._metadata

    @property
    def environment(self) -> dict[str, str]:
        return dict(self._environment)

    @property
    def secret_requests(self) -> list[Secret]:
        return list(self._secret_requests)

    def __repr__(self) -> str:
        return f"<{self._task_type} task {self.name}>"

    # --- what subclasses override -------------------------------------------------------

    def execute(self, **kwargs: Any) -> Any:
        """Run the task on its inputs; return its output (a tuple for several)."""
        raise NotImplementedError(
            f"{type(self).__name__} (task '{self.name}') does not implement execute(); "
            "override execute(self, **kwargs) in the subclass")

    def pre_execute(self, user_params: ExecutionParameters) -> ExecutionParameters:
        """Called in the attempt before :meth:`execute`."""
        return user_params

    def post_execute(self, user_params: ExecutionParameters, rval: Any) -> Any:
        """Called in the attempt after :meth:`execute` with what it returned."""
        return rval

    def get_custom(self, settings: Any = None) -> dict[str, Any] | None:
        """The plugin's configuration as plain data; part of the task's version."""
        return None

    # --- the task protocol (engine.dag.trace.TaskLike) ------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return routed_call(self, args, kwargs, lambda: self.python_interface.pack_outputs(
            self.run_function(self.bind_inputs(args, kwargs))))

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Inputs by name with defaults applied, each checked against its type."""
        return bind_inputs(f"task '{self.name}'", self.python_interface, args, kwargs)

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        """Run pre_execute, execute and post_execute; the outputs in order, checked."""
        # A node passes only the inputs its workflow binds: the rest take their defaults.
        kwargs = {**self.python_interface.defaults, **inputs}
        self.pre_execute(current_context())
        returned = self.post_execute(current_context(), self.execute(**kwargs))
        what = f"task '{self.name}'"
        values = self.python_interface.unpack_outputs(returned, what)
        for (name, t), value in zip(self.python_interface.outputs.items(), values, strict=True):
            reason = TypeEngine.check(value, t)
            if reason:
                raise InterfaceError(f"{what} returned a bad value for output '{name}': "
                                     f"{reason}")
        return values

    def spec(self) -> TaskSpec:
        """The task's spec; its version hashes the spec, the subclass's source, the
        ``task_config`` and ``get_custom()``."""
        return cached_spec(self._specs, self.name, self.python_interface,
                           self._spec_metadata, self.container_image,
                           lambda: (self._module, self._attribute()), self._version_text)

    def compile_as_workflow(self) -> CompiledWorkflow:
        """A one-node workflow running this task, to run the task alone on Ray."""

        def body(**kwargs: Any) -> Any:
            return self(**kwargs)

        project, domain = current_namespace()
        return compile_workflow(self.name, body, self.python_interface, project, domain)

    def _attribute(self) -> str:
        """The name this task has in its module (how a remote driver finds it alone);
        its name when it is no module attribute."""
        module = sys.modules.get(self._module)
        for attr, value in (vars(module).items() if module is not None else ()):
            if value is self:
                return attr
        return self.name

    def _version_text(self) -> str:
        """What besides the spec makes a new version: the user's classes and config."""
        sources = [_source_of(cls) for cls in type(self).__mro__
                   if cls.__module__.split(".")[0] not in ("engine", "builtins", "typing")]
        config = self._task_config
        config_text = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str) \
            if dataclasses.is_dataclass(config) and not isinstance(config, type) \
            else type(config).__name__
        custom = json.dumps(self.get_custom(), sort_keys=True, default=str)
        return "\n".join([*sources, self._task_type, config_text, custom])


def _source_of(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return cls.__qualname__


def _defining_module(task: object) -> str:
    """The module that created ``task``: the first caller outside its own constructors
    (a plugin's ``__init__`` calls this class's)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_locals.get("self") is task:
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "")) if frame is not None else ""


def _metadata_spec(what: str, iface: PythonInterface, metadata: TaskMetadata,
                   requests: Resources | None, limits: Resources | None,
                   secrets: list[Secret], image: Image | None,
                   environment: dict[str, str]) -> MetadataSpec:
    unknown = set(metadata.cache_ignore_input_vars) - set(iface.inputs)
    if unknown:
        raise ConfigError(f"{what}: cache_ignore_input_vars names unknown input(s) "
                          f"{sorted(unknown)}; inputs are {list(iface.inputs)}")
    return MetadataSpec(
        cache=metadata.cache,
        cache_version=metadata.cache_version,
        retries=metadata.retries,
        timeout_s=metadata.timeout_s,
        interruptible=bool(metadata.interruptible),
        requests=(requests or Resources()).to_spec(f"{what}: requests"),
        limits=(limits or Resources()).to_spec(f"{what}: limits"),
        secrets=secret_requests_spec(what, secrets),
        **image_fields(image),
        environment=tuple(sorted(environment.items())),
        cache_serialize=metadata.cache_serialize,
        cache_ignore_input_vars=tuple(metadata.cache_ignore_input_vars),
    )


def routed_call(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                local: Callable[[], Any]) -> Any:
    """A task called: a node while a workflow compiles, an awaitable inside an ``@eager``
    body, its stand-in under ``engine.testing.task_mock``, else ``local()`` (the call
    run in-process)."""
    if is_compiling():
        return add_task_node(task, args, kwargs)
    submit = EAGER_SUBMIT.get()
    if submit is not None:  # inside an @eager body: run on Ray, return an awaitable
        return submit(task, args, kwargs)
    mock = stand_ins.stand_in(task)  # set by engine.testing.task_mock
    if mock is not None:
        return stand_ins.call(task, mock, args, kwargs)
    return local()
