"""``flyray run --envvars KEY=VALUE``: environment variables set for every task of a local
run, on whichever Ray cluster it runs (a private one, or one it joins).

They travel as the run's Ray job runtime environment (``env_vars``), so Ray sets them in
every worker of the run, children of dynamic workflows and map tasks included, and in
none of another run's. They are not set in the driver's own environment: a cluster this
process starts would pass them on to the workers of later runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

import click

# Ray's driver reads its job's configuration (runtime environment included) from this
# variable when it connects (``ray.init``), as a driver started by ``ray job submit`` does.
# The run's ``ray.init`` happens inside the executor, whichever cluster it starts or joins;
# setting the variable around the run is how the CLI hands the job its environment.
RAY_JOB_CONFIG = "RAY_JOB_CONFIG_JSON_ENV_VAR"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_envvars(pairs: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a dict; the last of a repeated key wins.

    Raises:
        click.UsageError: a pair without ``=`` or with a name a shell could not export.
    """
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _NAME.fullmatch(key):
            raise click.UsageError(
                f"--envvars {pair!r} must be KEY=VALUE with KEY a variable name (letters, "
                "digits and _, not starting with a digit), e.g. --envvars LOG_LEVEL=debug")
        env[key] = value
    return env


def _job_config(env: dict[str, str], current: str | None) -> str:
    """The job configuration (JSON) with ``env`` added to its runtime environment: to one
    already set (a run inside ``ray job submit``), ``env`` wins key by key."""
    try:
        config: dict[str, Any] = json.loads(current) if current else {}
    except json.JSONDecodeError as e:
        raise click.ClickException(f"{RAY_JOB_CONFIG} is set but is not JSON ({e}); unset "
                                   "it to run with --envvars") from e
    runtime_env = dict(config.get("runtime_env") or {})
    runtime_env["env_vars"] = {**(runtime_env.get("env_vars") or {}), **env}
    return json.dumps({**config, "runtime_env": runtime_env})


@contextlib.contextmanager
def task_environment(env: dict[str, str], ray_address: str) -> Iterator[None]:
    """Run the block (a local run) with ``env`` set in the environment of its tasks.

    Args:
        env: the variables (none: the block runs as it is).
        ray_address: the ``ray_address`` setting, to refuse a Ray Client address
            (``ray://``), whose ``ray.init`` does not read the job configuration.

    Raises:
        click.UsageError: this process is already connected to Ray (its job, and so its
            workers' environment, is fixed), or the address is a Ray Client one.
    """
    if not env:
        yield
        return
    if ray_address.startswith("ray://"):
        raise click.UsageError(
            f"--envvars cannot reach the tasks through the Ray Client address {ray_address}: "
            "set the variables in the tasks (@task(environment={...})), or run on a cluster "
            "address (host:port) or locally")
    import ray  # heavy; only a run with --envvars needs it before the executor does

    if ray.is_initialized():
        raise click.UsageError(
            "--envvars needs a run that connects to Ray itself, but this process is already "
            "connected; run flyray in a process of its own")
    previous = os.environ.get(RAY_JOB_CONFIG)
    os.environ[RAY_JOB_CONFIG] = _job_config(env, previous)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RAY_JOB_CONFIG, None)
        else:
            os.environ[RAY_JOB_CONFIG] = previous
