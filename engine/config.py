"""Configuration in one place: the Flyray home, an optional config file, the environment.

Nothing else in Flyray reads ``os.environ`` for settings. Precedence, highest
first: environment variables, the config file (``$FLYRAY_HOME/config.toml`` or
``FLYRAY_CONFIG``), built-in defaults.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


@dataclass(frozen=True)
class Settings:
    """Every setting Flyray reads, with the environment variable that overrides it."""

    # Directory for Flyray's own files (config, local data). Env: FLYRAY_HOME.
    home: Path
    # Ray cluster to use: "auto" finds a running local cluster, "local" always starts
    # one in-process, "ray://..." or "host:port" connects. Env: FLYRAY_RAY_ADDRESS,
    # then RAY_ADDRESS.
    ray_address: str = "auto"
    # CPUs of a local cluster that Flyray starts itself (None: all). Env: FLYRAY_RAY_NUM_CPUS.
    ray_num_cpus: int | None = None
    # Show the prints of task code on the driver's terminal. Env: FLYRAY_LOG_TO_DRIVER.
    log_to_driver: bool = True
    # Defaults for identifiers. Env: FLYRAY_PROJECT, FLYRAY_DOMAIN.
    project: str = "flytesnacks"
    domain: str = "development"

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"


_ENV = {
    "ray_address": "FLYRAY_RAY_ADDRESS",
    "ray_num_cpus": "FLYRAY_RAY_NUM_CPUS",
    "log_to_driver": "FLYRAY_LOG_TO_DRIVER",
    "project": "FLYRAY_PROJECT",
    "domain": "FLYRAY_DOMAIN",
}


def _coerce(name: str, raw: Any, source: str) -> Any:
    if name == "ray_num_cpus":
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be a whole number, got {raw!r}") from None
        if value < 1:
            raise ConfigError(f"{source}: {name} must be at least 1, got {value}")
        return value
    if name == "log_to_driver":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{source}: {name} must be true or false, got {raw!r}")
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{source}: {name} must be a non-empty string, got {raw!r}")
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings; ``environ`` defaults to the process environment."""
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("FLYRAY_HOME") or Path.home() / ".flyray").expanduser()
    config_path = Path(env["FLYRAY_CONFIG"]) if env.get("FLYRAY_CONFIG") else home / "config.toml"
    values: dict[str, Any] = {}
    if config_path.is_file():
        try:
            data = tomllib.loads(config_path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read config file {config_path}: {e}") from e
        known = {f.name for f in fields(Settings)} - {"home"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(
                f"{config_path}: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        for name, raw in data.items():
            values[name] = _coerce(name, raw, str(config_path))
    for name, var in _ENV.items():
        raw = env.get(var)
        if raw is None and name == "ray_address":
            raw = env.get("RAY_ADDRESS")
        if raw:
            values[name] = _coerce(name, raw, f"environment variable {var}")
    return Settings(home=home, **values)


def prepare_ray_environment() -> None:
    """Environment Ray itself reads, set before Ray starts: quiet and unauthenticated locally.

    Ray 2.60 enables token auth by default, which makes later ``ray status`` and
    ``ray job submit`` calls need the token; Flyray's local clusters run without it
    unless the user set RAY_AUTH_MODE. Ray's "unhandled error" report is silenced:
    the engine reads and reports every failed attempt itself, and the superseded
    outputs of retried nodes would otherwise print tracebacks at exit.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
