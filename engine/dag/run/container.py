"""One attempt of a ``ContainerTask`` on the Ray node it lands on: finding the container
runtime there, its command line, running the container and stopping it.

The runtime is podman (what Ray's own container support uses), else docker, or the one
that the variable ``FLYRAY_CONTAINER_RUNTIME`` names on the node. Private input and
output directories of the attempt are bind-mounted at the task's ``input_data_dir`` and
``output_data_dir``; :mod:`engine.dag.run.container_io` fills and reads them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.dag.run.container_io import as_value, read_outputs, render_command, write_inputs
from engine.dag.run.context import ExecutionParameters, current_context
from engine.dag.spec import ContainerSpec, ResourceSpec, TaskMetadata
from engine.dag.spec.task import SecretRequest
from engine.errors import ContainerRuntimeError, FlyrayError
from engine.types.interface import PythonInterface

RUNTIME_ENV = "FLYRAY_CONTAINER_RUNTIME"
RUNTIMES = ("podman", "docker")  # searched on PATH in this order
PROBE_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 2.0  # twice within the worker's grace after a timeout
_TAIL_LINES = 20
# Runtimes that answered `info` in this process; failures are asked again next time.
_USABLE: set[str] = set()


class ContainerExitError(FlyrayError):
    """The command of a ContainerTask exited with a non-zero status."""


def run_container_task(task_name: str, container: ContainerSpec, metadata: TaskMetadata,
                       interface: PythonInterface, inputs: dict[str, Any],
                       local_logs: bool) -> list[Any]:
    """Write the inputs, run the container, read the outputs (in declaration order).

    ``local_logs`` prints the container's stdout and stderr where the attempt runs.
    """
    what = f"ContainerTask '{task_name}'"
    runtime = find_runtime(os.environ, task_name)
    ctx = current_context()
    in_dir, out_dir = _attempt_directories(ctx.working_directory)
    values = {n: as_value(v, interface.inputs[n]) for n, v in inputs.items()}
    rendered = write_inputs(in_dir, values, container)
    command = render_command([*container.command, *container.arguments], rendered, what)
    secrets = _secret_values(metadata.secrets)
    name = _container_name(ctx)
    image = metadata.container_image or ""
    argv = container_argv(runtime, name, image, command, len(container.command), in_dir,
                          out_dir, container, dict(metadata.environment), sorted(secrets),
                          metadata.limits)
    proc = _run_container(runtime, argv, {**os.environ, **secrets}, name)
    if local_logs:
        print(proc.stdout, end="")
        print(proc.stderr, end="", file=sys.stderr)
    if proc.returncode != 0:
        raise ContainerExitError(_exit_message(what, image, proc.returncode, proc.stderr))
    return read_outputs(out_dir, interface.outputs, container, what)


def _attempt_directories(working_directory: Path) -> tuple[Path, Path]:
    """Fresh input and output directories of one attempt, under its scratch directory."""
    attempt = Path(tempfile.mkdtemp(prefix="container-", dir=working_directory))
    in_dir, out_dir = attempt / "inputs", attempt / "outputs"
    in_dir.mkdir()
    out_dir.mkdir()
    out_dir.chmod(0o777)  # the image's user may be anyone
    return in_dir, out_dir


def _secret_values(requested: tuple[SecretRequest, ...]) -> dict[str, str]:
    """Requested secrets, by the variable Flyte gives them in a container."""
    manager = current_context().secrets
    values = {}
    for request in requested:
        key = request.key or None
        value = manager.get(request.group, key)
        values[manager.get_secrets_env_var(request.group, key)] = (
            value.decode() if isinstance(value, bytes) else value)
    return values


def _container_name(ctx: ExecutionParameters) -> str:
    """A name unique to the attempt, that says which execution and node it belongs to."""
    name = "flyray-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", "-".join(
        (ctx.execution_id, ctx.node_id or "local", str(ctx.attempt_number))))[:80]
    return name + "-" + uuid.uuid4().hex[:8]


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


def _run_container(runtime: str, argv: list[str], env: dict[str, str],
                  name: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to the end; stopped, remove the container ``name`` it started."""
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
    """Why the container of ``image`` failed, with the end of its stderr."""
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
