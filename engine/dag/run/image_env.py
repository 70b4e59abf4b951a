"""The Ray runtime environment of a task whose image is an ``ImageSpec``.

Ray merges it with the job's runtime environment: ``env_vars`` key by key, the task's
value winning; any other field the task gives (``pip``, ``image_uri``) replaces the job's,
and the job's others (its ``working_dir``: the code) stay. A task without an ImageSpec gets
no runtime environment of its own, so it keeps sharing the job's (prestarted) workers.
"""

from __future__ import annotations

import sys
from typing import Any

from engine.dag.spec.task import ImageRecord
from engine.errors import ConfigError

# The variable flytekit's built images set to their spec's id (ImageSpec.is_container()).
IMAGE_ID_VARIABLE = "_F_IMG_ID"
# Ray's own pip options, kept when the ImageSpec adds its own (Ray replaces them).
_RAY_PIP_OPTIONS = ("--disable-pip-version-check", "--no-cache-dir")
_INSTEAD = {
    "apt_packages": "install them on the cluster's machines, or build an image with them "
                    "and give it as base_image",
    "conda_packages": "give their pip names in packages (Ray's conda environments lack "
                      "Flyray), or build an image with them and give it as base_image",
    "commands": "run them on the cluster's machines, or build an image and give it as "
                "base_image",
    "cuda": "use cluster nodes with CUDA (ask for them with Resources(gpu=...)) or a "
            "base_image with CUDA",
    "cudnn": "use cluster nodes with cuDNN or a base_image with it",
}


def runtime_env(image: ImageRecord | None, where: str) -> dict[str, Any] | None:
    """The ``runtime_env`` Ray option of a task (``where`` names it in errors), or None.

    Raises:
        ConfigError: the ImageSpec asks for what a runtime environment cannot provide, or
            for another Python than the cluster's.
    """
    if image is None:
        return None
    if image.build_steps:
        name, value = image.build_steps[0]
        raise ConfigError(
            f"{where}: ImageSpec {image.name} sets {name}={value}, which only an image "
            "build provides; Flyray runs an ImageSpec as a Ray runtime environment (pip "
            f"packages, environment variables, a base_image), which cannot. Instead, "
            f"{_INSTEAD[name]}.")
    env_vars = {**dict(image.env), IMAGE_ID_VARIABLE: image.id}
    if image.base_image is not None:
        if image.packages:
            raise ConfigError(
                f"{where}: ImageSpec {image.name} gives both base_image and packages; Ray "
                "runs a container image as it is (image_uri) and cannot pip-install into "
                "it. Build base_image with the packages, or drop base_image to install "
                "them into the cluster's Python.")
        return {"image_uri": image.base_image, "env_vars": env_vars}
    _check_python(image, where)
    env: dict[str, Any] = {"env_vars": env_vars}
    if image.packages:
        pip: dict[str, Any] = {"packages": list(image.packages), "pip_check": False}
        if image.pip_options:
            pip["pip_install_options"] = [*_RAY_PIP_OPTIONS, *image.pip_options]
        env["pip"] = pip
    return env


def _check_python(image: ImageRecord, where: str) -> None:
    wanted = image.python_version
    here = ".".join(str(n) for n in sys.version_info[:3])
    if wanted is None:
        return
    parts = wanted.split(".")
    if [int(p) for p in parts] != list(sys.version_info[:len(parts)]):
        raise ConfigError(
            f"{where}: ImageSpec {image.name} asks for Python {wanted}, but the cluster runs "
            f"Python {here} and a Ray runtime environment cannot change it. Drop "
            "python_version (or set it to the cluster's), or give a base_image that has "
            f"Python {wanted} (and Ray, and Flyray).")
