"""Configuration in one place: the Flyray home, an optional config file, the environment.

Nothing else in Flyray reads ``os.environ`` for settings. Precedence, highest
first: environment variables, the config file (``$FLYRAY_HOME/config.toml`` or
``FLYRAY_CONFIG``), built-in defaults.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from engine.dag.resources import parse_quantity
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
    # Ray cluster to use: "auto" the local cluster of this Flyray home (`flyray cluster
    # start`, or the warm runtime below), never another cluster of the machine; "local"
    # always starts a private one in-process; "ray://..." or "host:port" connects.
    # Env: FLYRAY_RAY_ADDRESS, then RAY_ADDRESS.
    ray_address: str = "auto"
    # CPUs of a local cluster that Flyray starts itself (None: all). Env: FLYRAY_RAY_NUM_CPUS.
    ray_num_cpus: int | None = None
    # Show the prints of task code on the driver's terminal. Env: FLYRAY_LOG_TO_DRIVER.
    log_to_driver: bool = True
    # Defaults for identifiers. Env: FLYRAY_PROJECT, FLYRAY_DOMAIN.
    project: str = "flytesnacks"
    domain: str = "development"
    # Where data that outlives an execution is written: a directory ("file://..." or a
    # path) or "s3://bucket/prefix". Default: file://$FLYRAY_HOME/blobs.
    # Env: FLYRAY_BLOB_ROOT.
    blob_root: str = ""
    # S3 access for s3:// URIs (blob store and spilling). Env: FLYRAY_S3_ENDPOINT_URL then
    # AWS_ENDPOINT_URL, AWS_REGION then AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY. Unset: boto's own lookup (instance roles, ~/.aws).
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Values whose JSON form is larger than this many bytes are written to the blob store
    # and recorded by reference. Env: FLYRAY_OFFLOAD_THRESHOLD (a quantity, e.g. "1Mi").
    offload_threshold: int = 1 << 20
    # Where Ray spills objects when its object store is full, for a local cluster Flyray
    # starts: "s3://bucket/prefix" or a directory. Unset: Ray's default (local temp dir).
    # Env: FLYRAY_SPILL_URI.
    spill_uri: str | None = None
    # Object store size of a local cluster Flyray starts (bytes or a quantity such as
    # "2Gi"; unset: Ray's default). Env: FLYRAY_OBJECT_STORE_MEMORY.
    object_store_memory: int | None = None

    # Database of the data catalog (cached task results): any SQLAlchemy URL, e.g.
    # postgresql+psycopg://user:pw@host/db. Default: sqlite:///$FLYRAY_HOME/catalog.db.
    # Env: FLYRAY_CATALOG_URL.
    catalog_url: str = ""
    # Directory of secret files, <group>/<key>, read where tasks run.
    # Default: $FLYRAY_HOME/secrets. Env: FLYRAY_SECRETS_DIR.
    secrets_dir: str = ""

    # Database of the admin API (registered entities, launch plans): any SQLAlchemy URL.
    # Default: sqlite:///$FLYRAY_HOME/admin.db. Env: FLYRAY_ADMIN_DB_URL.
    admin_db_url: str = ""
    # Bearer token with every right (read, write, admin) over the admin API; with it or
    # the tokens file set, every call but GET /healthz needs a token. Unset, and no
    # file: no token is asked for. Env: FLYRAY_ADMIN_TOKEN.
    admin_token: str | None = None
    # File of further tokens, stored hashed, each with a scope (read, write or admin),
    # one "<scope>:<hash>" a line; read again when it changes, so tokens rotate without
    # a restart (serve/api/tokens.py). Env: FLYRAY_ADMIN_TOKENS_FILE.
    admin_tokens_file: str | None = None
    # Where clients reach the admin API. Env: FLYRAY_ADMIN_ENDPOINT.
    admin_endpoint: str = "http://127.0.0.1:30080"
    # Largest request body the admin API accepts (bytes or a quantity such as "10Mi").
    # Env: FLYRAY_ADMIN_MAX_REQUEST_BYTES.
    admin_max_request_bytes: int = 10 << 20
    # Requests per second one client (its token, else its address) may make of the admin
    # API, and how many at once above that rate; creating an execution (a launch,
    # relaunch or recovery) also takes from a second, smaller allowance. Over either: 429
    # with Retry-After. 0 turns a limit off; GET /healthz is never limited. The defaults
    # only stop runaway loops. Env: FLYRAY_ADMIN_RATE_LIMIT, FLYRAY_ADMIN_RATE_BURST,
    # FLYRAY_ADMIN_LAUNCH_RATE_LIMIT, FLYRAY_ADMIN_LAUNCH_RATE_BURST.
    admin_rate_limit: float = 500.0
    admin_rate_burst: int = 1000
    admin_launch_rate_limit: float = 20.0
    admin_launch_rate_burst: int = 200

    # Times a node is tried again after attempts lost to the infrastructure (its worker
    # or Ray node died, its objects were lost), apart from its task's ``retries``, which
    # count the failures attempts report: Flyte's max-node-retries-system-failures.
    # Env: FLYRAY_MAX_SYSTEM_RETRIES.
    max_system_retries: int = 3

    # Executors of the admin: long-lived Ray actors, each driving many executions. How
    # many are kept running for the default project and domain while idle; how long
    # another one may idle before it ends (seconds); how many executions one drives at
    # once. Env: FLYRAY_WARM_EXECUTORS, FLYRAY_EXECUTOR_IDLE_S, FLYRAY_EXECUTOR_CAPACITY.
    warm_executors: int = 1
    executor_idle_s: float = 300.0
    executor_capacity: int = 64

    # The warm local runtime: with ``ray_address="auto"`` and no cluster recorded for this
    # Flyray home, a run starts the home's local cluster in the background and later runs
    # reuse it (off: each run starts a private cluster of its own, which lives as long as
    # the run). It stops itself once no driver has been connected to it for
    # ``local_runtime_idle_s`` seconds. Env: FLYRAY_LOCAL_RUNTIME, FLYRAY_LOCAL_RUNTIME_IDLE_S.
    local_runtime: bool = True
    local_runtime_idle_s: float = 1800.0

    # Notifications of launch plans, sent by the admin when executions end. E-mail goes
    # through the SMTP server at ``smtp_url`` ("smtp://host[:port]", port 25 by default,
    # or "smtps://host[:port]" for TLS from the start, port 465), logging in with
    # ``smtp_user``/``smtp_password`` when set and upgrading with STARTTLS when
    # ``smtp_starttls``; it is sent from ``mail_from``. Env: FLYRAY_SMTP_URL,
    # FLYRAY_SMTP_USER, FLYRAY_SMTP_PASSWORD, FLYRAY_SMTP_STARTTLS, FLYRAY_MAIL_FROM.
    smtp_url: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "flyray@localhost"
    # Slack incoming-webhook URL for Slack notifications that name none of their own
    # (unset: they are e-mailed to their recipients, as Flyte does).
    # Env: FLYRAY_SLACK_WEBHOOK_URL.
    slack_webhook_url: str | None = None
    # PagerDuty's Events API v2 endpoint, and the routing (integration) key of PagerDuty
    # notifications that name none of their own (unset: they are e-mailed to their
    # recipients, PagerDuty's e-mail integration, as Flyte does).
    # Env: FLYRAY_PAGERDUTY_EVENTS_URL, FLYRAY_PAGERDUTY_ROUTING_KEY.
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_routing_key: str | None = None

    @property
    def secrets_path(self) -> Path:
        return Path(self.secrets_dir).expanduser() if self.secrets_dir else self.home / "secrets"

    @property
    def catalog_url_or_default(self) -> str:
        return self.catalog_url or f"sqlite:///{self.home.resolve() / 'catalog.db'}"

    @property
    def admin_db_url_or_default(self) -> str:
        return self.admin_db_url or f"sqlite:///{self.home.resolve() / 'admin.db'}"

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"

    @property
    def blob_root_uri(self) -> str:
        """``blob_root`` as a URI, defaulting under the Flyray home."""
        root = self.blob_root or str(self.home / "blobs")
        return root if "://" in root else f"file://{Path(root).expanduser().resolve()}"


_ENV = {
    "ray_address": "FLYRAY_RAY_ADDRESS",
    "ray_num_cpus": "FLYRAY_RAY_NUM_CPUS",
    "log_to_driver": "FLYRAY_LOG_TO_DRIVER",
    "project": "FLYRAY_PROJECT",
    "domain": "FLYRAY_DOMAIN",
    "blob_root": "FLYRAY_BLOB_ROOT",
    "s3_endpoint_url": "FLYRAY_S3_ENDPOINT_URL",
    "offload_threshold": "FLYRAY_OFFLOAD_THRESHOLD",
    "spill_uri": "FLYRAY_SPILL_URI",
    "object_store_memory": "FLYRAY_OBJECT_STORE_MEMORY",
    "catalog_url": "FLYRAY_CATALOG_URL",
    "secrets_dir": "FLYRAY_SECRETS_DIR",
    "admin_db_url": "FLYRAY_ADMIN_DB_URL",
    "admin_token": "FLYRAY_ADMIN_TOKEN",
    "admin_tokens_file": "FLYRAY_ADMIN_TOKENS_FILE",
    "admin_endpoint": "FLYRAY_ADMIN_ENDPOINT",
    "admin_max_request_bytes": "FLYRAY_ADMIN_MAX_REQUEST_BYTES",
    "admin_rate_limit": "FLYRAY_ADMIN_RATE_LIMIT",
    "admin_rate_burst": "FLYRAY_ADMIN_RATE_BURST",
    "admin_launch_rate_limit": "FLYRAY_ADMIN_LAUNCH_RATE_LIMIT",
    "admin_launch_rate_burst": "FLYRAY_ADMIN_LAUNCH_RATE_BURST",
    "max_system_retries": "FLYRAY_MAX_SYSTEM_RETRIES",
    "warm_executors": "FLYRAY_WARM_EXECUTORS",
    "executor_idle_s": "FLYRAY_EXECUTOR_IDLE_S",
    "executor_capacity": "FLYRAY_EXECUTOR_CAPACITY",
    "local_runtime": "FLYRAY_LOCAL_RUNTIME",
    "local_runtime_idle_s": "FLYRAY_LOCAL_RUNTIME_IDLE_S",
    "smtp_url": "FLYRAY_SMTP_URL",
    "smtp_user": "FLYRAY_SMTP_USER",
    "smtp_password": "FLYRAY_SMTP_PASSWORD",
    "smtp_starttls": "FLYRAY_SMTP_STARTTLS",
    "mail_from": "FLYRAY_MAIL_FROM",
    "slack_webhook_url": "FLYRAY_SLACK_WEBHOOK_URL",
    "pagerduty_events_url": "FLYRAY_PAGERDUTY_EVENTS_URL",
    "pagerduty_routing_key": "FLYRAY_PAGERDUTY_ROUTING_KEY",
}
# Standard variables read when Flyray's own are not set.
_FALLBACK_ENV = {
    "ray_address": ("RAY_ADDRESS",),
    "s3_endpoint_url": ("AWS_ENDPOINT_URL",),
    "s3_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "s3_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "s3_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
}


def _coerce(name: str, raw: Any, source: str) -> Any:
    if name in ("offload_threshold", "object_store_memory", "admin_max_request_bytes"):
        value = int(parse_quantity(raw, f"{source}: {name}"))
        if name == "admin_max_request_bytes" and value < 1:
            raise ConfigError(f"{source}: {name} must be at least 1 byte, got {raw!r}")
        return value
    if name == "ray_num_cpus":
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be a whole number, got {raw!r}") from None
        if value < 1:
            raise ConfigError(f"{source}: {name} must be at least 1, got {value}")
        return value
    if name == "max_system_retries":
        return _count(name, raw, source, 0, "0 turns system retries off")
    if name == "warm_executors":
        return _count(name, raw, source, 0, "0 keeps none while idle")
    if name == "executor_capacity":
        return _count(name, raw, source, 1, "executions one executor drives at once")
    if name in ("admin_rate_limit", "admin_launch_rate_limit"):
        return _rate(name, raw, source)
    if name in ("admin_rate_burst", "admin_launch_rate_burst"):
        return _count(name, raw, source, 1, "requests one client may make at once")
    if name in ("executor_idle_s", "local_runtime_idle_s"):
        return _seconds(name, raw, source)
    if name in _URL_SCHEMES:
        return _url(name, raw, source, _URL_SCHEMES[name])
    if name in ("log_to_driver", "local_runtime", "smtp_starttls"):
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


# Settings that are URLs, and the schemes each may have.
_URL_SCHEMES = {
    "smtp_url": ("smtp", "smtps"),
    "slack_webhook_url": ("http", "https"),
    "pagerduty_events_url": ("http", "https"),
}


def _url(name: str, raw: Any, source: str, schemes: tuple[str, ...]) -> str:
    """``raw`` as a URL of one of ``schemes`` with a host (and a valid port, if any)."""
    text = raw.strip() if isinstance(raw, str) else ""
    scheme, _, rest = text.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    hostname, _, port = host.partition(":")
    if scheme not in schemes or not hostname or any(c.isspace() for c in text) or (
            port and not (port.isdigit() and 0 < int(port) < 65536)):
        forms = " or ".join(f"{s}://host[:port]" for s in schemes)
        raise ConfigError(f"{source}: {name} must be a URL {forms}, got {raw!r}")
    return text


def _count(name: str, raw: Any, source: str, minimum: int, hint: str) -> int:
    """``raw`` (a TOML integer, or text) as a whole number >= ``minimum``."""
    if isinstance(raw, int) and not isinstance(raw, bool):  # a TOML true is no count
        value = raw
    else:  # text: digits only, as int() would also take "1_0" or " +1"
        text = raw.strip() if isinstance(raw, str) else ""
        value = int(text) if text.isascii() and text.isdigit() else -1
    if value < minimum:
        raise ConfigError(f"{source}: {name} must be a whole number >= {minimum} ({hint}), "
                          f"got {raw!r}")
    return value


def _seconds(name: str, raw: Any, source: str) -> float:
    """``raw`` (a TOML number, or text) as a positive number of seconds."""
    try:
        value = float(raw) if not isinstance(raw, bool) else -1.0
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{source}: {name} must be a positive number of seconds, "
                          f"got {raw!r}")
    return value


def _rate(name: str, raw: Any, source: str) -> float:
    """``raw`` (a TOML number, or text) as requests per second: 0 (no limit) or more."""
    try:
        value = float(raw) if not isinstance(raw, bool) else -1.0
    except (TypeError, ValueError):
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{source}: {name} must be a number of requests per second, "
                          f"0 for no limit, got {raw!r}")
    return value


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
    for name in sorted(set(_ENV) | set(_FALLBACK_ENV)):
        for var in (_ENV.get(name), *_FALLBACK_ENV.get(name, ())):
            if var and env.get(var):
                values[name] = _coerce(name, env[var], f"environment variable {var}")
                break
    return Settings(home=home, **values)


# Settings of the Ray cluster itself (which one, what a started one is made of): code on
# its workers does not read them.
_CLUSTER_SETTINGS = ("ray_address", "ray_num_cpus", "object_store_memory", "spill_uri",
                     "local_runtime", "local_runtime_idle_s")
# The control plane's delivery credentials: tasks never need them, so they never travel
# into a worker's environment.
_CONTROL_PLANE_SECRETS = ("smtp_password", "pagerduty_routing_key")


def settings_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables settings are read from, as ``environ`` (default: this
    process's environment) sets them, but those of the Ray cluster itself and the
    control plane's credentials.

    What a run hands the workers of a cluster that was started with another environment:
    code on workers reads its settings from the worker's environment.
    """
    env = os.environ if environ is None else environ
    names = {"FLYRAY_HOME", "FLYRAY_CONFIG", *_ENV.values(),
             *(var for fallbacks in _FALLBACK_ENV.values() for var in fallbacks)}
    for name in (*_CLUSTER_SETTINGS, *_CONTROL_PLANE_SECRETS):
        names -= {_ENV[name], *_FALLBACK_ENV.get(name, ())}
    return {name: env[name] for name in sorted(names) if env.get(name)}


# The project and domain identities are computed for, when a caller says which: the
# control plane compiles registered code for the execution's project and domain, and one
# process may compile for several (a driver of many executions).
_NAMESPACE: ContextVar[tuple[str, str] | None] = ContextVar("flyray_namespace", default=None)


@contextmanager
def namespace(project: str, domain: str) -> Iterator[None]:
    """Inside the block (this thread or task), tasks, workflows and launch plans take
    ``project`` and ``domain`` for their identities, instead of the settings' defaults."""
    token = _NAMESPACE.set((project, domain))
    try:
        yield
    finally:
        _NAMESPACE.reset(token)


def chosen_namespace() -> tuple[str, str] | None:
    """The innermost :func:`namespace` block's project and domain; None outside any."""
    return _NAMESPACE.get()


def current_namespace() -> tuple[str, str]:
    """The project and domain identities are computed for now: the innermost
    :func:`namespace` block's, else the ``project`` and ``domain`` settings."""
    chosen = _NAMESPACE.get()
    if chosen is not None:
        return chosen
    settings = load_settings()
    return settings.project, settings.domain


def prepare_ray_environment(settings: Settings | None = None) -> None:
    """Environment Ray itself reads, set before Ray starts: quiet and unauthenticated locally.

    Ray 2.60 enables token auth by default, which makes later ``ray status`` and
    ``ray job submit`` calls need the token; Flyray's local clusters run without it
    unless the user set RAY_AUTH_MODE. For S3 spilling the S3 settings are exported
    as the AWS variables Ray's IO workers read. Ray's "unhandled error" report is silenced:
    the engine reads and reports every failed attempt itself, and the superseded
    outputs of retried nodes would otherwise print tracebacks at exit.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    if settings is not None and (settings.spill_uri or "").startswith("s3://"):
        # Ray's S3 spilling (boto3 in its IO workers) reads the standard variables.
        for var, value in (("AWS_ENDPOINT_URL", settings.s3_endpoint_url),
                           ("AWS_ACCESS_KEY_ID", settings.s3_access_key_id),
                           ("AWS_SECRET_ACCESS_KEY", settings.s3_secret_access_key),
                           ("AWS_DEFAULT_REGION", settings.s3_region)):
            if value:
                os.environ[var] = value
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
