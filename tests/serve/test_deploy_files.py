"""The files a user deploys with (``deploy/``) are valid as Ray reads them: the Serve config
file and the Serve config embedded in the KubeRay manifest parse with Serve's own schema,
name only variables Flyray reads, and their application builds the admin API from that
environment (nothing is run); the two files agree."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from ray.serve import Application
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
from ray.serve.schema import ServeDeploySchema

from engine.config import load_settings
from engine.errors import ConfigError
from serve.deployment import APP_NAME, DEPLOYMENT_NAME, app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _manifest() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "rayservice.yaml").read_text()))


def _serve_configs() -> dict[str, ServeDeploySchema]:
    """The Serve config file, and the one the manifest embeds (a YAML string)."""
    embedded = _manifest()["spec"]["serveConfigV2"]
    return {
        "serve-config.yaml": ServeDeploySchema.model_validate(
            yaml.safe_load((DEPLOY / "serve-config.yaml").read_text())),
        "rayservice.yaml": ServeDeploySchema.model_validate(yaml.safe_load(embedded)),
    }


def _read_by_flyray(variable: str) -> bool:
    """Whether Flyray's settings read ``variable``: set to junk, it changes them, or is
    refused as a bad value."""
    base = {"FLYRAY_HOME": "/nonexistent/flyray-home"}  # no config file either
    try:
        return load_settings({**base, variable: "-1x"}) != load_settings(base)
    except ConfigError:
        return True


@pytest.mark.parametrize("source", ["serve-config.yaml", "rayservice.yaml"])
def test_the_serve_config_builds_the_admin_api_from_its_environment(
        source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _serve_configs()[source]
    (application,) = config.applications
    assert (application.name, application.route_prefix) == (APP_NAME, "/")
    # Serve applies these options by deployment name: a wrong name fails the deploy.
    assert {d.name for d in application.deployments} == {DEPLOYMENT_NAME}

    env_vars = application.runtime_env["env_vars"]
    unread = [name for name in env_vars if not _read_by_flyray(name)]
    assert not unread, f"{source}: no setting is read from {unread}"
    settings = load_settings(env_vars)
    assert settings.admin_db_url.startswith("postgresql+psycopg://")
    assert settings.catalog_url.startswith("postgresql+psycopg://")
    assert settings.blob_root.startswith("s3://")
    assert settings.admin_endpoint.endswith(f":{config.http_options.port}")

    # What Serve does with import_path and args, in the environment the config gives.
    module, _, attribute = application.import_path.partition(":")
    builder = getattr(importlib.import_module(module), attribute)
    assert builder is app
    for name, value in env_vars.items():
        monkeypatch.setenv(name, value)
    built = call_user_app_builder_with_args_if_necessary(builder, application.args)
    assert isinstance(built, Application)


def test_the_manifest_runs_this_ray_with_serve_on_its_port() -> None:
    manifest = _manifest()
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayService")
    cluster = manifest["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == ray.__version__
    (head,) = cluster["headGroupSpec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    config = _serve_configs()["rayservice.yaml"]
    assert ports["serve"] == config.http_options.port
    images = {head["image"]} | {c["image"] for group in cluster["workerGroupSpecs"]
                                for c in group["template"]["spec"]["containers"]}
    assert len(images) == 1, f"every pod must run the same image: {images}"


def test_the_manifest_embeds_the_serve_config_but_for_the_endpoint() -> None:
    """The two files say the same, but where clients reach the admin API."""
    def comparable(text: str) -> dict[str, Any]:
        config = dict(yaml.safe_load(text))
        config["applications"][0]["runtime_env"]["env_vars"].pop("FLYRAY_ADMIN_ENDPOINT")
        return config

    assert comparable((DEPLOY / "serve-config.yaml").read_text()) == \
        comparable(_manifest()["spec"]["serveConfigV2"])


def test_the_builder_refuses_args_and_says_where_settings_go() -> None:
    with pytest.raises(ConfigError, match="runtime_env.env_vars"):
        app({"admin_db_url": "postgresql+psycopg://x@db/admin"})
