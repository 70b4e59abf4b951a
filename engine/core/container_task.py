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
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import hashlib
import inspect
import json
import math
import os
import posixpath
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from engine.config import load_settings
from engine.dag.compiler import add_task_node
from engine.dag.resources import Resources, Secret
from engine.dag.run.context import current_context
from engine.dag.spec import (
    ContainerSpec,
    Identifier,
    ResourceSpec,
    ResourceType,
    TaskMetadata,
    TaskSpec,
)
from engine.dag.trace import is_compiling
from engine.errors import (
    ConfigError,
    ContainerRuntimeError,
    DataError,
    FlyrayError,
    InterfaceError,
    NotYetSupportedError,
)
from engine.types._blob import Blob
from engine.types.interface import (
    PythonInterface,
    bind_inputs,
    default_named_tuple,
    to_spec_interface,
)

RUNTIME_ENV = "FLYRAY_CONTAINER_RUNTIME"
RUNTIMES = ("podman", "docker")  # searched on PATH in this order
PROBE_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 2.0  # twice within the worker's grace after a timeout
_TAIL_LINES = 20

# Flyte's template of an input (propeller's): {{.inputs.x}}, {{ $Inputs.x }}.
_INPUT = re.compile(r"(?i)\{\{\s*[.$]inputs\.([^}\s]+)\s*\}\}")
# Flyte's other templates: remote prefixes and files that Flyray has no equivalent of.
_OTHER = re.compile(
    r"(?i)\{\{\s*[.$](outputs\.[^}\s]+|input|inputprefix|outputprefix|rawoutputdataprefix"
    r"|perretryuniquekey|tasktemplatepath|prevcheckpointprefix|checkpointoutputprefix)\s*\}\}"
)
_SCALARS = (str, int, float, bool)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go's strconv.ParseBool, as Flyte reads
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Runtimes that answered `info` in this process; failures are asked again next time.
_USABLE: set[str] = set()

# flytekit options with no meaning on Ray that change nothing if ignored.
_IGNORED = {"io_strategy", "docs"}
# flytekit options Flyray does not implement yet: set, they raise.
_LATER = {"metadata", "pod_template", "pod_template_name", "task_config", "deprecated",
          "labels", "annotations", "shared_memory", "accelerator", "enable_deck"}


class ContainerExitError(FlyrayError):
    """The command of a ContainerTask exited with a non-zero status."""


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
            inputs, outputs: ``kwtypes(...)`` of str, int, float, bool, FlyteFile and
                FlyteDirectory.
            input_data_dir, output_data_dir: where the container sees its inputs and
                leaves its outputs (None: ``/var/inputs``, ``/var/outputs``).
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
        self._spec: TaskSpec | None = None

    def __repr__(self) -> str:
        return f"<container task {self.name}>"

    def spec(self) -> TaskSpec:
        """The task's spec; its version hashes everything in it (image and command too)."""
        if self._spec is None:
            settings = load_settings()
            iface = to_spec_interface(self.python_interface, f"ContainerTask '{self.name}'")
            ident = Identifier(ResourceType.TASK, settings.project, settings.domain, self.name,
                               "")
            unversioned = TaskSpec(ident, iface, self.metadata, self._module, self.name,
                                   self.container)
            version = hashlib.sha256(repr(unversioned.to_dict()).encode()).hexdigest()[:16]
            self._spec = TaskSpec(
                Identifier(ResourceType.TASK, settings.project, settings.domain, self.name,
                           version),
                iface, self.metadata, self._module, self.name, self.container,
            )
        return self._spec

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        """Write the inputs, run the container, read the outputs (in declaration order)."""
        what = f"ContainerTask '{self.name}'"
        runtime = find_runtime(os.environ, self.name)
        ctx = current_context()
        attempt = Path(tempfile.mkdtemp(prefix="container-", dir=ctx.working_directory))
        in_dir, out_dir = attempt / "inputs", attempt / "outputs"
        in_dir.mkdir()
        out_dir.mkdir()
        out_dir.chmod(0o777)  # the image's user may be anyone
        values = {n: _as_value(v, self.python_interface.inputs[n]) for n, v in inputs.items()}
        rendered = write_inputs(in_dir, values, self.container)
        command = render_command([*self.container.command, *self.container.arguments],
                                 rendered, what)
        secrets = self._secret_values()
        name = "flyray-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", "-".join(
            (ctx.execution_id, ctx.node_id or "local", str(ctx.attempt_number))))[:80]
        name += "-" + uuid.uuid4().hex[:8]
        argv = container_argv(runtime, name, self.metadata.container_image or "", command,
                              len(self.container.command), in_dir, out_dir, self.container,
                              dict(self.metadata.environment), sorted(secrets),
                              self.metadata.limits)
        proc = _run(runtime, argv, {**os.environ, **secrets}, name)
        if self.local_logs:
            print(proc.stdout, end="")
            print(proc.stderr, end="", file=sys.stderr)
        if proc.returncode != 0:
            raise ContainerExitError(_exit_message(what, self.metadata.container_image or "",
                                                   proc.returncode, proc.stderr))
        return read_outputs(out_dir, self.python_interface.outputs, self.container, what)

    def _secret_values(self) -> dict[str, str]:
        """Requested secrets, by the variable Flyte gives them in a container."""
        manager = current_context().secrets
        values = {}
        for group, key in self.metadata.secrets:
            value = manager.get(group, key or None)
            values[manager.get_secrets_env_var(group, key or None)] = (
                value.decode() if isinstance(value, bytes) else value)
        return values

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


def check_templates(parts: list[str], inputs: list[str], container: ContainerSpec,
                    what: str) -> None:
    """Fail on a template that names no input, or that Flyray cannot fill."""
    for part in parts:
        other = _OTHER.search(part)
        if other and other.group(1).lower().startswith("outputs."):
            var = other.group(1).split(".", 1)[1]
            raise ConfigError(
                f"{what}: {other.group(0)} in {part!r} is not a Flyte template; the command "
                f"writes output '{var}' to the file {container.output_data_dir}/{var}"
            )
        if other:
            raise ConfigError(
                f"{what}: {part!r} uses {other.group(0)}, a Flyte template Flyray cannot "
                "fill; inputs are {{.inputs.<name>}} or files in "
                f"{container.input_data_dir}, outputs files in {container.output_data_dir}"
            )
        for var in _INPUT.findall(part):
            if var not in inputs:
                raise ConfigError(f"{what}: {part!r} uses input '{var}', which the task "
                                  f"does not declare; inputs are {inputs or 'none'}")


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
        secrets=tuple((s.group, s.key or "") for s in secret_requests or ()),
        container_image=image, environment=tuple(sorted((environment or {}).items())),
        cache_serialize=cache_serialize, cache_ignore_input_vars=cache_ignore_input_vars,
    )


# --- data in and out --------------------------------------------------------------------


def render_value(value: Any) -> str:
    """A value as Flyte writes it into a file or a command (Go's formatting)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        text = format(Decimal(repr(value)), "f")  # never an exponent, as Go's 'f', -1
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def render_command(parts: list[str], values: Mapping[str, str], what: str) -> list[str]:
    """``parts`` with every ``{{.inputs.x}}`` replaced by ``values[x]``."""

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ConfigError(f"{what}: {match.group(0)} names no input; inputs are "
                              f"{list(values) or 'none'}")
        return values[match.group(1)]

    return [_INPUT.sub(value, part) for part in parts]


def _as_value(value: Any, python_type: Any) -> Any:
    """A path given for a file or directory input (a call outside workflows) as a Blob."""
    if isinstance(python_type, type) and issubclass(python_type, Blob) and \
            not isinstance(value, Blob):
        return python_type(os.fspath(value))
    return value


def write_inputs(directory: Path, inputs: Mapping[str, Any],
                 container: ContainerSpec) -> dict[str, str]:
    """Write each input into ``directory`` (mounted at ``input_data_dir``) as a file named
    after it, and all of them into ``inputs.json``/``inputs.yaml``; return what each
    ``{{.inputs.x}}`` becomes."""
    rendered: dict[str, str] = {}
    listing: dict[str, Any] = {}
    for name, value in inputs.items():
        target = directory / name
        if isinstance(value, Blob):
            source = value.download()
            if type(value).multipart:
                shutil.copytree(source, target)
            else:
                shutil.copyfile(source, target)
            rendered[name] = listing[name] = posixpath.join(container.input_data_dir, name)
        else:
            rendered[name] = render_value(value)
            target.write_text(rendered[name])
            listing[name] = value
    if container.metadata_format == "YAML":
        (directory / "inputs.yaml").write_text(yaml.safe_dump(listing))
    else:
        (directory / "inputs.json").write_text(json.dumps(listing))
    return rendered


def parse_value(text: str, python_type: Any, where: str) -> Any:
    """The value of an output file's text, blanks around it dropped (as Flyte reads it)."""
    s = text.strip(" \n\t")
    if python_type is str:
        return s
    if python_type is bool:
        if s in _TRUE or s in _FALSE:
            return s in _TRUE
    elif python_type is int:
        if _INTEGER.fullmatch(s):
            return int(s)
    else:
        try:
            return float(s)
        except ValueError:
            pass
    raise DataError(f"{where}: {s[:80]!r} is not a {python_type.__name__}; the command must "
                    f"write the value alone, e.g. {render_value(python_type(1))!r}")


def read_outputs(directory: Path, outputs: Mapping[str, Any], container: ContainerSpec,
                 what: str) -> list[Any]:
    """The outputs the command left in ``directory`` (mounted at ``output_data_dir``)."""
    values = []
    for name, python_type in outputs.items():
        path = directory / name
        where = f"{what}: output '{name}' ({container.output_data_dir}/{name})"
        blob = isinstance(python_type, type) and issubclass(python_type, Blob)
        noun = "directory" if blob and python_type.multipart else "file"
        if not (path.is_dir() if noun == "directory" else path.is_file()):
            raise DataError(f"{where}: the command wrote no {noun} there; write the output "
                            f"'{name}' to {container.output_data_dir}/{name}")
        values.append(python_type(str(path)) if blob
                      else parse_value(path.read_text(), python_type, where))
    return values


# --- the container runtime --------------------------------------------------------------


def find_runtime(environ: Mapping[str, str], task: str) -> str:
    """The path of the container runtime to use here: ``FLYRAY_CONTAINER_RUNTIME`` if
    set, else podman, else docker, found on ``environ``'s PATH and able to run
    containers (``<runtime> info`` succeeds)."""
    search = environ.get("PATH", os.defpath)
    node = socket.gethostname()
    chosen = environ.get(RUNTIME_ENV, "").strip()
    if chosen:
        path = shutil.which(chosen, path=search)
        if path is None:
            raise ContainerRuntimeError(
                f"ContainerTask '{task}': {RUNTIME_ENV} is {chosen!r}, but Ray node {node} "
                "has no such executable; set it to podman, docker or the full path of one "
                "installed on every Ray node, or unset it to use podman or docker from PATH"
            )
        problem = _probe(path, environ)
        if problem:
            raise ContainerRuntimeError(
                f"ContainerTask '{task}': {RUNTIME_ENV} is {chosen!r} ({path}), which cannot "
                f"run containers on Ray node {node}: {problem}; fix it or set {RUNTIME_ENV} "
                "to a working podman or docker"
            )
        return path
    problems = []
    for candidate in RUNTIMES:
        path = shutil.which(candidate, path=search)
        if path is None:
            problems.append(f"{candidate}: not found on PATH")
            continue
        problem = _probe(path, environ)
        if problem is None:
            return path
        problems.append(f"{candidate} ({path}): {problem}")
    raise ContainerRuntimeError(
        f"ContainerTask '{task}' needs a container runtime on the Ray node that runs it, and "
        f"node {node} has no usable one ({'; '.join(problems)}). Install podman (what Ray's "
        "own container support uses) or docker on every Ray node that may run the task, or "
        f"set {RUNTIME_ENV} there to the path of a working one"
    )


def _probe(path: str, environ: Mapping[str, str]) -> str | None:
    """Why ``path`` cannot run containers, or None if it can."""
    if path in _USABLE:
        return None
    call = f"'{os.path.basename(path)} info'"
    try:
        proc = subprocess.run([path, "info"], capture_output=True, text=True, check=False,
                              env=dict(environ), timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{call} did not answer within {PROBE_TIMEOUT_S:g} s"
    except OSError as e:
        return f"it cannot be started: {e}"
    if proc.returncode != 0:
        tail = _tail(proc.stderr or proc.stdout, 3)
        return f"{call} exited with status {proc.returncode}" + (f": {tail}" if tail else "")
    _USABLE.add(path)
    return None


def container_argv(runtime: str, name: str, image: str, command: list[str], entrypoint: int,
                   input_dir: Path, output_dir: Path, container: ContainerSpec,
                   environment: Mapping[str, str], secret_vars: list[str],
                   limits: ResourceSpec) -> list[str]:
    """The runtime's command line; the first ``entrypoint`` items of ``command`` replace
    the image's entrypoint. Secrets are passed by name: their values stay out of argv."""
    argv = [runtime, "run", "--rm", "--name", name,
            "-v", f"{input_dir}:{container.input_data_dir}",
            "-v", f"{output_dir}:{container.output_data_dir}"]
    for key, value in environment.items():
        argv += ["-e", f"{key}={value}"]
    for var in secret_vars:
        argv += ["-e", var]
    if limits.cpu:
        argv.append(f"--cpus={limits.cpu:g}")
    if limits.mem:
        argv.append(f"--memory={limits.mem}b")
    if entrypoint:
        argv.append(f"--entrypoint={command[0]}")
        return [*argv, image, *command[1:]]
    return [*argv, image, *command]


def _run(runtime: str, argv: list[str], env: dict[str, str],
         name: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    except BaseException:
        # Stopped (timeout, cancel): killing the runtime's client leaves the container
        # running under podman's conmon or docker's daemon. Kill it at once (``rm -f``
        # alone first waits out the stop timeout), then remove it; the stop goes on.
        for action in (["kill"], ["rm", "-f"]):
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                subprocess.run([runtime, *action, name], capture_output=True, check=False,
                               timeout=CLEANUP_TIMEOUT_S)
        raise


def _exit_message(what: str, image: str, status: int, stderr: str) -> str:
    hint = {
        125: " (the runtime could not start it: check the image name and that the node can "
             "pull it)",
        126: " (the command is not executable in the image)",
        127: " (the command is not found in the image)",
    }.get(status, "")
    return (f"{what}: the container of image {image} exited with status {status}{hint}; "
            f"stderr:\n{_tail(stderr, _TAIL_LINES)}")


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
