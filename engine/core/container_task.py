"""``ContainerTask``: a command run in a container image, as flytekit's.

    area = ContainerTask(
        name="ellipse_area",
        image="ghcr.io/flyteorg/rawcontainers-shell:v2",
        command=["./calculate-ellipse-area.sh", "{{.inputs.a}}", "{{.inputs.b}}",
                 "/var/outputs"],
        inputs=kwtypes(a=float, b=float),
        outputs=kwtypes(area=float, metadata=str),
    )

Data goes in and out as Flyte's data loading (its co-pilot) moves it. Before the
command starts, each input is a file named after it in ``input_data_dir``: a value as
text (``true``, ``2.5``), a FlyteFile or FlyteDirectory copied there whole; all of them
are also in ``inputs.json`` (``inputs.yaml`` for ``metadata_format="YAML"``) there. The
command leaves each output as a file named after it in ``output_data_dir``: text parsed
as the output's type (surrounding blanks dropped), or the file or directory itself.
``{{.inputs.x}}`` in the command or arguments becomes input ``x`` as written in its
file, or the in-container path of a file or directory input. As on Kubernetes,
``command`` replaces the image's entrypoint and ``arguments`` follow it.

Each attempt runs the container with the runtime of the Ray node it lands on: podman
(what Ray's own container support uses), else docker, or the one that the variable
``FLYRAY_CONTAINER_RUNTIME`` names there. Private input and output directories of the
attempt are bind-mounted at ``input_data_dir`` and ``output_data_dir``.

This module is the user-facing class and the checks of its arguments; an attempt runs
in :mod:`engine.dag.run.container`, which moves the data with
:mod:`engine.dag.run.container_io`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import inspect
import posixpath
from collections.abc import Mapping
from typing import Any

from engine.config import chosen_namespace, current_namespace
from engine.dag.compiler import add_task_node
from engine.dag.resources import Resources, Secret, secret_requests_spec
from engine.dag.run.container import ContainerExitError, run_container_task
from engine.dag.run.container_io import check_templates
from engine.dag.spec import ContainerSpec, Identifier, ResourceType, TaskMetadata, TaskSpec
from engine.dag.trace import is_compiling
from engine.errors import ConfigError, InterfaceError, NotYetSupportedError
from engine.types._blob import Blob
from engine.types.interface import (
    PythonInterface,
    bind_inputs,
    default_named_tuple,
    to_spec_interface,
)

# ContainerExitError is raised by the runtime; users catch it from here, as before.
__all__ = ["ContainerExitError", "ContainerTask"]

_SCALARS = (str, int, float, bool)

# flytekit options with no meaning on Ray that change nothing if ignored.
_IGNORED = {"io_strategy", "docs"}
# flytekit options Flyray does not implement yet: set, they raise.
_LATER = {"metadata", "pod_template", "pod_template_name", "task_config", "deprecated",
          "labels", "annotations", "shared_memory", "accelerator", "enable_deck"}


class ContainerTask:
    """A task that runs a command in a container image (see the module docstring)."""

    _flyray_entity = True

    class MetadataFormat(enum.Enum):
        JSON = "JSON"
        YAML = "YAML"
        PROTO = "PROTO"

    class IOStrategy(enum.Enum):
        DOWNLOAD_EAGER = "DOWNLOAD_EAGER"
        DOWNLOAD_STREAM = "DOWNLOAD_STREAM"
        DO_NOT_DOWNLOAD = "DO_NOT_DOWNLOAD"
        UPLOAD_EAGER = "UPLOAD_EAGER"
        UPLOAD_ON_EXIT = "UPLOAD_ON_EXIT"
        DO_NOT_UPLOAD = "DO_NOT_UPLOAD"

    def __init__(
        self,
        name: str,
        image: str,
        command: list[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        outputs: Mapping[str, Any] | None = None,
        input_data_dir: str | None = "/var/inputs",
        output_data_dir: str | None = "/var/outputs",
        arguments: list[str] | None = None,
        requests: Resources | None = None,
        limits: Resources | None = None,
        environment: Mapping[str, str] | None = None,
        retries: int = 0,
        timeout: int | float | dt.timedelta | None = None,
        cache: bool = False,
        cache_version: str = "",
        cache_serialize: bool = False,
        cache_ignore_input_vars: tuple[str, ...] = (),
        secret_requests: list[Secret] | None = None,
        metadata_format: str | ContainerTask.MetadataFormat = "JSON",
        interruptible: bool | None = None,
        local_logs: bool = False,
        **options: Any,
    ) -> None:
        """Declare the task; arguments are flytekit's, checked here.

        Args:
            image: the image reference, pulled by the runtime where it is missing.
            command: replaces the image's entrypoint; empty keeps it.
            inputs: ``kwtypes(...)`` of str, int, float, bool, FlyteFile and
                FlyteDirectory.
            outputs: ``kwtypes(...)`` of the same types.
            input_data_dir: where the container sees its inputs (None: ``/var/inputs``).
            output_data_dir: where it leaves its outputs (None: ``/var/outputs``).
            requests: resources Ray reserves; ``limits`` also cap the container (cpu, mem).
            environment: variables set in the container.
            secret_requests: each given to the container as ``_FSEC_<GROUP>_<KEY>``.
            local_logs: print the container's stdout and stderr where the attempt runs.
        """
        self.name = name
        what = f"ContainerTask '{name}'"
        _check_options(what, options)
        if not isinstance(image, str) or not image:
            raise ConfigError(f"{what}: image must be an image reference such as "
                              f"'python:3.12-slim', got {image!r}")
        parts = [*(command or []), *(arguments or [])]
        if any(not isinstance(p, str) for p in parts):
            raise ConfigError(f"{what}: command and arguments must be lists of strings")
        names = list(outputs or {})
        self.python_interface = PythonInterface(
            inputs=dict(inputs or {}), defaults={}, outputs=dict(outputs or {}),
            output_tuple=default_named_tuple(names) if len(names) > 1 else None,
        )
        for kind, declared in (("input", self.python_interface.inputs),
                               ("output", self.python_interface.outputs)):
            for var, t in declared.items():
                _check_type(what, kind, var, t)
        container = ContainerSpec(
            command=tuple(command or ()), arguments=tuple(arguments or ()),
            input_data_dir=_data_dir(what, "input_data_dir", input_data_dir, "/var/inputs"),
            output_data_dir=_data_dir(what, "output_data_dir", output_data_dir, "/var/outputs"),
            metadata_format=_metadata_format(what, metadata_format),
        )
        check_templates(parts, list(self.python_interface.inputs), container, what)
        self.container = container
        self.local_logs = local_logs
        self.metadata = dataclasses.replace(_metadata(
            what, self.python_interface, image, requests, limits, environment, retries,
            timeout, cache, cache_version, cache_serialize, tuple(cache_ignore_input_vars),
            secret_requests,
        ), interruptible=bool(interruptible))
        caller = inspect.getmodule(inspect.stack()[1].frame)
        self._module = caller.__name__ if caller else ""
        # By namespace() block (None: the settings' project and domain).
        self._specs: dict[tuple[str, str] | None, TaskSpec] = {}

    def __repr__(self) -> str:
        return f"<container task {self.name}>"

    def spec(self) -> TaskSpec:
        """The task's spec; its version hashes everything in it (image and command too)."""
        chosen = chosen_namespace()
        spec = self._specs.get(chosen)
        if spec is None:
            project, domain = chosen or current_namespace()
            iface = to_spec_interface(self.python_interface, f"ContainerTask '{self.name}'")
            ident = Identifier(ResourceType.TASK, project, domain, self.name,
                               "")
            unversioned = TaskSpec(ident, iface, self.metadata, self._module, self.name,
                                   self.container)
            version = hashlib.sha256(repr(unversioned.to_dict()).encode()).hexdigest()[:16]
            spec = TaskSpec(
                Identifier(ResourceType.TASK, project, domain, self.name,
                           version),
                iface, self.metadata, self._module, self.name, self.container,
            )
            self._specs[chosen] = spec
        return spec

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        """Write the inputs, run the container, read the outputs (in declaration order)."""
        return run_container_task(self.name, self.container, self.metadata,
                                  self.python_interface, inputs, self.local_logs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if is_compiling():
            return add_task_node(self, args, kwargs)
        bound = bind_inputs(f"ContainerTask '{self.name}'", self.python_interface, args, kwargs)
        return self.python_interface.pack_outputs(self.run_function(bound))


# --- construction -----------------------------------------------------------------------


def _check_options(what: str, options: dict[str, Any]) -> None:
    unknown = set(options) - _IGNORED - _LATER
    if unknown:
        raise TypeError(f"{what}: unexpected option(s) {', '.join(sorted(unknown))}")
    later = sorted(k for k in options if k in _LATER and options[k] is not None)
    if later:
        raise NotYetSupportedError(f"{what}: option(s) " + ", ".join(later))


def _check_type(what: str, kind: str, var: str, t: Any) -> None:
    if t in _SCALARS or (isinstance(t, type) and issubclass(t, Blob)):
        return
    raise InterfaceError(
        f"{what}: {kind} '{var}' has type {t.__name__ if type(t) is type else t}; a "
        "container reads and writes each value as one file, so the types are str, int, "
        "float, bool, FlyteFile and FlyteDirectory"
    )


def _data_dir(what: str, option: str, value: str | None, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(f"{what}: {option} must be an absolute path in the container, "
                          f"e.g. {default!r}, got {value!r}")
    return posixpath.normpath(value)


def _metadata_format(what: str, value: Any) -> str:
    text = value.value if isinstance(value, ContainerTask.MetadataFormat) else value
    if text in ("JSON", "YAML"):
        return str(text)
    if text == "PROTO":
        raise NotYetSupportedError(f"{what}: metadata_format PROTO (Flyte's protobuf "
                                   "literal map); use JSON or YAML")
    raise ConfigError(f"{what}: metadata_format must be 'JSON' or 'YAML', got {value!r}")


def _metadata(
    what: str, iface: PythonInterface, image: str, requests: Resources | None,
    limits: Resources | None, environment: Mapping[str, str] | None, retries: int,
    timeout: int | float | dt.timedelta | None, cache: bool, cache_version: str,
    cache_serialize: bool, cache_ignore_input_vars: tuple[str, ...],
    secret_requests: list[Secret] | None,
) -> TaskMetadata:
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ConfigError(f"{what}: retries must be a whole number >= 0, got {retries!r}")
    timeout_s = timeout.total_seconds() if isinstance(timeout, dt.timedelta) else timeout
    if timeout_s is not None and (not isinstance(timeout_s, (int, float)) or timeout_s <= 0):
        raise ConfigError(f"{what}: timeout must be positive seconds or a timedelta, "
                          f"got {timeout!r}")
    if cache and not cache_version:
        raise ConfigError(f"{what}: cache=True needs a cache_version, e.g. "
                          "ContainerTask(..., cache=True, cache_version='1.0')")
    unknown = set(cache_ignore_input_vars) - set(iface.inputs)
    if unknown:
        raise ConfigError(f"{what}: cache_ignore_input_vars names unknown input(s) "
                          f"{sorted(unknown)}; inputs are {list(iface.inputs)}")
    reqs = (requests or Resources()).to_spec(f"{what}: requests")
    lims = (limits or Resources()).to_spec(f"{what}: limits")
    if reqs.gpu or lims.gpu:
        raise NotYetSupportedError(f"{what}: GPUs for a container (the runtime is not given "
                                   "the node's GPUs)")
    return TaskMetadata(
        cache=cache, cache_version=cache_version, retries=retries,
        timeout_s=float(timeout_s) if timeout_s is not None else None,
        requests=reqs, limits=lims,
        secrets=secret_requests_spec(what, secret_requests),
        container_image=image, environment=tuple(sorted((environment or {}).items())),
        cache_serialize=cache_serialize, cache_ignore_input_vars=cache_ignore_input_vars,
    )
