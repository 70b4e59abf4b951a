"""``ImageSpec``: flytekit's declaration of a task's image, run on Ray as the task's runtime
environment.

Flyray builds no container images. An ImageSpec given as a task's ``container_image`` is
recorded in the task's spec (:class:`~engine.dag.spec.task.ImageRecord`) and becomes the Ray
runtime environment its attempts run in (:mod:`engine.dag.run.image_env`): ``packages`` and
``requirements`` are pip-installed by Ray into a virtualenv over the cluster's Python (once
per distinct environment, then cached), ``env`` sets environment variables and
``base_image`` runs the task in that container image. What only an image build can do
(apt and conda packages, commands, CUDA) is recorded and refused when the task runs.

``flyray run --image`` sets the images of a run (:func:`use_images`): the default one for
tasks that give none, and named ones that tasks refer to as
``container_image="{{.image.NAME.fullname}}"``.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import copy as _copy
import dataclasses
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from engine.dag.run.image_env import IMAGE_ID_VARIABLE
from engine.dag.spec.task import ImageRecord
from engine.errors import ConfigError

# flytekit's check of a registry's name.
_REGISTRY = re.compile(r"^(localhost:\d{1,5}|([a-z\d._-]+)(:\d{1,5})?)(/[\w.-]+)*$")
_PYTHON_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")
# Fields that are lists of strings in flytekit; kept as tuples here.
_STRING_LISTS = ("packages", "conda_packages", "conda_channels", "apt_packages",
                 "pip_extra_index_url", "entrypoint", "commands", "copy")
_OPTIONAL_STRINGS = ("python_version", "builder", "source_root", "registry", "requirements",
                     "cuda", "cudnn", "pip_index", "pip_extra_args", "registry_config",
                     "tag_format", "python_exec")
# Fields that only an image build provides: recorded, refused when the task runs on Ray.
_BUILD_STEPS = ("apt_packages", "conda_packages", "commands", "cuda", "cudnn")


@dataclass(frozen=True)
class ImageSpec:
    """The image a task runs in, with flytekit's fields; on Ray, its runtime environment.

    Plain frozen data, checked when it is made (a bad field raises :class:`ConfigError`
    naming it); the ``with_*`` builders return changed copies. Lists are kept as tuples.

    Fields that only an image build provides (``apt_packages``, ``conda_packages``,
    ``conda_channels``, ``commands``, ``cuda``, ``cudnn``) are recorded; a Ray runtime
    environment cannot provide them, and a run of the task says what to do instead. Those
    that name or build an image (``builder``, ``source_root``, ``registry``, ``platform``,
    ``registry_config``, ``entrypoint``, ``tag_format``, ``source_copy_mode``, ``copy``,
    ``python_exec``, ``pip_secret_mounts``) are kept for flytekit's sake.

    Args:
        name: the image's name (lower-cased).
        python_version: ``"3.11"``: must be the cluster's Python unless ``base_image``
            is given (Ray runs the task in the cluster's interpreter).
        env: environment variables of the task's worker.
        packages: pip requirements, installed by Ray for the task.
        requirements: a requirements file; its lines are read when the task is defined
            and installed as ``packages`` are.
        pip_index: the index ``pip install`` uses.
        pip_extra_index_url: more indexes.
        pip_extra_args: more ``pip install`` arguments, as one string.
        base_image: a container image to run the task in (Ray's ``image_uri``, which
            needs podman on the cluster's nodes), or an ImageSpec whose fields this one
            extends.
    """

    name: str = "flytekit"
    python_version: str | None = None
    builder: str | None = None
    source_root: str | None = None
    env: dict[str, str] | None = None
    registry: str | None = None
    packages: Sequence[str] | None = None
    conda_packages: Sequence[str] | None = None
    conda_channels: Sequence[str] | None = None
    requirements: str | None = None
    apt_packages: Sequence[str] | None = None
    cuda: str | None = None
    cudnn: str | None = None
    base_image: str | ImageSpec | None = None
    platform: str = "linux/amd64"
    pip_index: str | None = None
    pip_extra_index_url: Sequence[str] | None = None
    pip_secret_mounts: Sequence[tuple[str, str]] | None = None
    pip_extra_args: str | None = None
    registry_config: str | None = None
    entrypoint: Sequence[str] | None = None
    commands: Sequence[str] | None = None
    tag_format: str | None = None
    source_copy_mode: str | Enum | None = None
    copy: Sequence[str] | None = None
    python_exec: str | None = None
    # force_push() sets it; it names no different image, so it is not part of the id.
    _is_force_push: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            _bad("name", "a non-empty string", self.name)
        object.__setattr__(self, "name", self.name.lower())
        for name in _OPTIONAL_STRINGS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                _bad(name, "a string or None", value)
        for name in _STRING_LISTS:
            object.__setattr__(self, name, _string_tuple(name, getattr(self, name)))
        if self.registry is not None:
            if not _REGISTRY.match(self.registry.lower()):
                _bad("registry", "a registry such as 'localhost:30000', 'ghcr.io/user' or "
                     "'docker.io/user'", self.registry)
            object.__setattr__(self, "registry", self.registry.lower())
        if self.python_version is not None and not _PYTHON_VERSION.match(self.python_version):
            _bad("python_version", "a version such as '3.11'", self.python_version)
        if self.env is not None:
            if not isinstance(self.env, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()):
                _bad("env", "a dict of strings to strings", self.env)
            object.__setattr__(self, "env", dict(self.env))
        if not isinstance(self.base_image, (str, ImageSpec, type(None))):
            _bad("base_image", "an image name, an ImageSpec or None", self.base_image)
        if not isinstance(self.platform, str):
            _bad("platform", "a string such as 'linux/amd64'", self.platform)
        if not isinstance(self.source_copy_mode, (str, Enum, type(None))):
            _bad("source_copy_mode", "a CopyFileDetection or None", self.source_copy_mode)
        if self.pip_secret_mounts is not None:
            mounts = self.pip_secret_mounts
            if not isinstance(mounts, (list, tuple)) or not all(
                    isinstance(m, (list, tuple)) and len(m) == 2
                    and all(isinstance(p, str) for p in m) for m in mounts):
                _bad("pip_secret_mounts", "a list of (file, mount path) pairs of strings",
                     mounts)
            object.__setattr__(self, "pip_secret_mounts", tuple(tuple(m) for m in mounts))

    def __hash__(self) -> int:
        return hash(self.id)

    # --- identity ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        """A hash of the fields that are set: the same spec has the same id anywhere."""
        return _digest(self._identity(with_files=False))

    @property
    def tag(self) -> str:
        """The image's tag: a hash of the spec and of its requirements file's text,
        formatted by ``tag_format`` (``"{spec_hash}-dev"``)."""
        spec_hash = _digest(self._identity(with_files=True)).replace("-", "_")
        return self.tag_format.format(spec_hash=spec_hash) if self.tag_format else spec_hash

    def image_name(self) -> str:
        """The full image name: ``[registry/]name:tag``."""
        name = f"{self.name}:{self.tag}"
        return f"{self.registry}/{name}" if self.registry else name

    def _identity(self, with_files: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or f.name in ("pip_secret_mounts", "_is_force_push"):
                continue
            if isinstance(value, ImageSpec):
                value = value.image_name() if with_files else value._identity(False)
            elif isinstance(value, Enum):
                value = value.name
            elif f.name == "requirements" and with_files:
                value = hashlib.sha256(_read_requirements(value).encode()).hexdigest()
            fields[f.name] = value
        return fields

    # --- flytekit's helpers ------------------------------------------------------------

    def is_container(self) -> bool:
        """Whether code runs in this image: inside a task's attempt, whether the task runs
        in this spec's environment; anywhere else (importing the module, a local call,
        compiling) True, as in flytekit, so that ``if image.is_container(): import x``
        imports ``x`` where the module is written."""
        # The runtime's context (the catalog with it): imported only when asked, so that
        # defining tasks stays light.
        from engine.dag.run.context import current_node

        if current_node() is None:
            return True
        return os.environ.get(IMAGE_ID_VARIABLE) == self.id

    def exist(self) -> bool | None:
        """Whether the image exists. Flyray builds none: Ray makes a runtime environment on
        first use (True); a ``base_image`` is pulled by the cluster's nodes, which cannot be
        checked from here (None, flytekit's "cannot tell")."""
        return None if self.base_image is not None else True

    def force_push(self) -> ImageSpec:
        """A copy marked to be pushed again; Flyray pushes no images, so it runs alike."""
        copied = _copy.copy(self)
        object.__setattr__(copied, "_is_force_push", True)
        return copied

    def with_commands(self, commands: str | list[str]) -> ImageSpec:
        """A copy with more build commands."""
        return self._extended("commands", commands)

    def with_packages(self, packages: str | list[str]) -> ImageSpec:
        """A copy with more pip packages."""
        return self._extended("packages", packages)

    def with_apt_packages(self, apt_packages: str | list[str]) -> ImageSpec:
        """A copy with more apt packages."""
        return self._extended("apt_packages", apt_packages)

    def with_copy(self, src: str | list[str]) -> ImageSpec:
        """A copy with more files to copy into the image."""
        return self._extended("copy", src)

    def _extended(self, name: str, values: str | list[str]) -> ImageSpec:
        more = (values,) if isinstance(values, str) else _string_tuple(name, values) or ()
        changes: dict[str, Any] = {name: (*(getattr(self, name) or ()), *more)}
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, *, pinned_packages: list[str] | None = None, **kwargs: Any) -> ImageSpec:
        """An ImageSpec with this interpreter's Python version and ``pinned_packages`` at
        the versions installed here."""
        from importlib.metadata import version

        if kwargs.get("python_version") is not None:
            raise ConfigError("ImageSpec.from_env: python_version is this interpreter's; "
                              "do not give it")
        packages = list(kwargs.pop("packages", None) or [])
        packages += [f"{p}=={version(p)}" for p in pinned_packages or []]
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        return cls(packages=packages or None, python_version=python, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> ImageSpec:
        """An ImageSpec from a mapping of its fields (an ``imagespec.yaml``); ``where``
        names the source in errors."""
        known = [f.name for f in dataclasses.fields(cls) if f.init]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{where}: unknown ImageSpec field(s) {unknown}; known fields: "
                              f"{', '.join(known)}")
        try:
            return cls(**data)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None

    # --- the spec's record -------------------------------------------------------------

    def record(self) -> ImageRecord:
        """The spec as a task's spec records it (base ImageSpecs flattened into it).

        Raises:
            ConfigError: the requirements file cannot be read.
        """
        layers = self._layers()
        env: dict[str, str] = {}
        packages: list[str] = []
        options: list[str] = []
        steps: dict[str, str] = {}
        for layer in layers:  # the innermost base first: outer layers win
            env.update(layer.env or {})
            packages += layer.packages or ()
            if layer.requirements:
                packages += _requirement_lines(_read_requirements(layer.requirements))
            options += _pip_options(layer)
            for name in _BUILD_STEPS:
                value = getattr(layer, name)
                if value:
                    steps[name] = repr(list(value) if isinstance(value, tuple) else value)
        base = layers[0].base_image
        return ImageRecord(
            name=self.image_name(),
            id=self.id,
            python_version=next((x.python_version for x in reversed(layers)
                                 if x.python_version), None),
            packages=tuple(dict.fromkeys(packages)),
            pip_options=tuple(options),
            env=tuple(sorted(env.items())),
            base_image=base if isinstance(base, str) else None,
            build_steps=tuple(sorted(steps.items())),
        )

    def _layers(self) -> list[ImageSpec]:
        layers: list[ImageSpec] = [self]
        while isinstance(layers[0].base_image, ImageSpec):
            layers.insert(0, layers[0].base_image)
        return layers


def _bad(name: str, expected: str, value: Any) -> None:
    raise ConfigError(f"ImageSpec field '{name}': must be {expected}, got {value!r}")


def _string_tuple(name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        _bad(name, "a list of strings or None", value)
    return tuple(value)


def _digest(fields: dict[str, Any]) -> str:
    text = json.dumps(fields, sort_keys=True, default=str).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(text).digest()[:16]).decode().rstrip("=")


def _read_requirements(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"ImageSpec field 'requirements': cannot read {path!r} "
                          f"({e.strerror}); give the path of a requirements file") from None


def _requirement_lines(text: str) -> list[str]:
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pip_options(spec: ImageSpec) -> list[str]:
    options = ["--index-url", spec.pip_index] if spec.pip_index else []
    for url in spec.pip_extra_index_url or ():
        options += ["--extra-index-url", url]
    return options + shlex.split(spec.pip_extra_args or "")


# --- the images of a run: flyray run --image -------------------------------------------

# An image name, an ImageSpec, or an ImageSpec as a registered spec recorded it (the
# control plane compiles registered code under the images its registration had).
Image = str | ImageSpec | ImageRecord
DEFAULT = "default"
_IMAGES: contextvars.ContextVar[tuple[tuple[str, Image], ...]] = contextvars.ContextVar(
    "flyray_images", default=())
_TEMPLATE = re.compile(r"^\{\{\s*\.image\.([\w-]+)\.fullname\s*\}\}$")


@contextlib.contextmanager
def use_images(images: Mapping[str, Image]) -> Iterator[None]:
    """Within the block, tasks compile with ``images``: the one named ``default`` for tasks
    that give no image, a named one for ``container_image="{{.image.NAME.fullname}}"``."""
    token = _IMAGES.set(tuple(sorted(images.items())))
    try:
        yield
    finally:
        _IMAGES.reset(token)


def images_key() -> tuple[tuple[str, Image], ...]:
    """The images in use (hashable): what a task's spec depends on besides the task."""
    return _IMAGES.get()


def template_name(image: object) -> str | None:
    """NAME when ``image`` is flytekit's ``{{.image.NAME.fullname}}`` template, else None."""
    match = _TEMPLATE.match(image) if isinstance(image, str) else None
    return match.group(1) if match else None


def resolve(image: Image | None) -> Image | None:
    """A task's image with the images in use applied: the default one for None, the one
    named by a ``{{.image.NAME.fullname}}`` template; any other image as it is."""
    images = dict(_IMAGES.get())
    if image is None:
        return images.get(DEFAULT)
    name = template_name(image)
    if name is not None and name in images:
        return images[name]
    return image


def image_fields(image: Image | None) -> dict[str, Any]:
    """The task metadata fields of ``image``: ``container_image`` and ``image_spec``."""
    if isinstance(image, (ImageSpec, ImageRecord)):
        record = image.record() if isinstance(image, ImageSpec) else image
        return {"container_image": record.name, "image_spec": record}
    if image is not None and not isinstance(image, str):
        raise ConfigError(f"container_image must be an image name or an ImageSpec, got "
                          f"{image!r}")
    return {"container_image": image, "image_spec": None}
