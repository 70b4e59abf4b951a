"""Where a :class:`~engine.remote.FlyteRemote` finds the control plane, as flytekit's
``flytekit.configuration``: ``Config.auto()``, ``Config.for_endpoint(...)``,
``Config.for_sandbox()``.

A config names the admin API (:class:`PlatformConfig`: its URL and bearer token) and the
blob store that file and dataframe inputs are uploaded to (:class:`DataConfig`), which
must be the admin server's own. Every default comes from Flyray's settings
(:mod:`engine.config`: environment, then ``$FLYRAY_HOME/config.toml``), as the CLI's.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field, replace

from engine.catalog.blob import StorageConfig
from engine.config import Settings, load_settings
from engine.errors import ConfigError

# Where ``flyray demo start`` serves the admin API unless told otherwise.
SANDBOX_ENDPOINT = "http://127.0.0.1:30080"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _settings(config_file: str | os.PathLike[str] | None) -> Settings:
    if config_file is None:
        return load_settings()
    return load_settings({**os.environ, "FLYRAY_CONFIG": os.fspath(config_file)})


def endpoint_url(endpoint: str, insecure: bool) -> str:
    """The admin API's URL: ``endpoint`` as given when it has a scheme, else ``http://``
    (``insecure``) or ``https://`` before it; flytekit's ``dns:///`` prefix is dropped."""
    text = endpoint.strip().removeprefix("dns:///").rstrip("/")
    if "://" not in text:
        text = f"{'http' if insecure else 'https'}://{text}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"admin endpoint {endpoint!r} must look like "
                          "http://127.0.0.1:30080 or host:port")
    return text


@dataclass(frozen=True)
class PlatformConfig:
    """The admin API.

    Attributes:
        endpoint: its URL (``http://host:port``); ``host:port`` is read as ``https://``
            unless ``insecure``.
        insecure: plain HTTP for an endpoint given without a scheme.
        token: bearer token for calls that change something (``FLYRAY_ADMIN_TOKEN``).
        console_endpoint: where console URLs point (default: the endpoint).
        timeout: seconds to wait for one HTTP answer.
    """

    endpoint: str = SANDBOX_ENDPOINT
    insecure: bool = True
    token: str | None = None
    console_endpoint: str | None = None
    timeout: float = 30.0

    @property
    def url(self) -> str:
        return endpoint_url(self.endpoint, self.insecure)

    @classmethod
    def auto(cls, config_file: str | os.PathLike[str] | None = None) -> PlatformConfig:
        """From the settings: ``admin_endpoint`` and ``admin_token``."""
        settings = _settings(config_file)
        return cls(endpoint=settings.admin_endpoint, token=settings.admin_token)

    @classmethod
    def for_endpoint(cls, endpoint: str, insecure: bool = False) -> PlatformConfig:
        return cls(endpoint=endpoint, insecure=insecure)


@dataclass(frozen=True)
class S3Config:
    """Access to an S3 blob store (unset: boto's own lookup)."""

    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True)
class DataConfig:
    """The blob store: ``blob_root`` is ``file:///dir`` or ``s3://bucket/prefix``, the
    admin server's, since it accepts only inputs stored under its own root."""

    blob_root: str
    s3: S3Config = field(default_factory=S3Config)

    def storage(self) -> StorageConfig:
        return StorageConfig(self.blob_root, self.s3.endpoint, self.s3.region,
                             self.s3.access_key_id, self.s3.secret_access_key)

    @classmethod
    def auto(cls, config_file: str | os.PathLike[str] | None = None) -> DataConfig:
        """From the settings: ``blob_root`` (default ``$FLYRAY_HOME/blobs``) and S3."""
        settings = _settings(config_file)
        return cls(settings.blob_root_uri,
                   S3Config(settings.s3_endpoint_url, settings.s3_region,
                            settings.s3_access_key_id, settings.s3_secret_access_key))


@dataclass(frozen=True)
class Config:
    """Everything a :class:`~engine.remote.FlyteRemote` needs to reach the control plane.

    Attributes:
        platform: the admin API.
        data_config: the blob store inputs are uploaded to and outputs read from.
    """

    platform: PlatformConfig
    data_config: DataConfig

    @classmethod
    def auto(cls, config_file: str | os.PathLike[str] | None = None) -> Config:
        """From Flyray's settings, as the CLI reads them: ``FLYRAY_ADMIN_ENDPOINT``,
        ``FLYRAY_ADMIN_TOKEN``, ``FLYRAY_BLOB_ROOT``... then the config file
        (``config_file``, or ``$FLYRAY_HOME/config.toml``), then the defaults."""
        return cls(PlatformConfig.auto(config_file), DataConfig.auto(config_file))

    @classmethod
    def for_endpoint(cls, endpoint: str, insecure: bool = False,
                     data_config: DataConfig | None = None,
                     config_file: str | os.PathLike[str] | None = None) -> Config:
        """The admin API at ``endpoint`` (``http://host:port``, or ``host:port``: HTTPS
        unless ``insecure``); the token and the blob store from the settings."""
        auto = cls.auto(config_file)
        platform = replace(auto.platform, endpoint=endpoint, insecure=insecure)
        return cls(platform, data_config or auto.data_config)

    @classmethod
    def for_sandbox(cls) -> Config:
        """The local demo (``flyray demo start``) of this Flyray home: its admin endpoint
        when that is on this machine (else http://127.0.0.1:30080), its blob store."""
        auto = cls.auto()
        host = urllib.parse.urlsplit(auto.platform.url).hostname
        endpoint = auto.platform.endpoint if host in _LOOPBACK else SANDBOX_ENDPOINT
        return cls(replace(auto.platform, endpoint=endpoint, insecure=True), auto.data_config)

    def with_params(self, platform: PlatformConfig | None = None,
                    data_config: DataConfig | None = None) -> Config:
        """A copy with the given parts replaced."""
        return Config(platform or self.platform, data_config or self.data_config)


__all__ = ["Config", "DataConfig", "PlatformConfig", "S3Config", "endpoint_url"]
