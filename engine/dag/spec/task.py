"""The compiled form of a task: identity, interface, metadata and where its code lives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from engine.dag.spec.identifier import Identifier
from engine.dag.spec.interface import Interface
from engine.errors import SpecError


@dataclass(frozen=True)
class ResourceSpec:
    """Resource quantities normalised to numbers: cpu in cores, mem in bytes."""

    cpu: float | None = None
    mem: int | None = None
    gpu: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("cpu", self.cpu), ("mem", self.mem), ("gpu", self.gpu))
                if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResourceSpec:
        return cls(d.get("cpu"), d.get("mem"), d.get("gpu"))


@dataclass(frozen=True)
class ImageRecord:
    """An ``ImageSpec`` given as a task's image, as the spec records it: what the task's Ray
    runtime environment is built from, in a stable, versioned JSON form.

    Invariant: every field is a pure function of the ImageSpec (and the text of its
    requirements file), so a task's spec and version are the same wherever it is compiled.
    """

    FORMAT: ClassVar[int] = 1  # bumped when the JSON form changes; from_dict refuses others

    name: str  # the image's full name (``ImageSpec.image_name()``)
    id: str  # ``ImageSpec.id``: what ``is_container()`` compares in the worker
    python_version: str | None = None
    # pip requirements: ``packages``, then the lines of the ``requirements`` file.
    packages: tuple[str, ...] = ()
    # ``pip install`` options: the index URLs and extra arguments.
    pip_options: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    base_image: str | None = None
    # Fields only an image build provides (apt and conda packages, commands, CUDA), as
    # (field, value as given): recorded as declared; a Ray runtime env cannot provide them.
    build_steps: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            "name": self.name,
            "id": self.id,
            "python_version": self.python_version,
            "packages": list(self.packages),
            "pip_options": list(self.pip_options),
            "env": dict(self.env),
            "base_image": self.base_image,
            "build_steps": dict(self.build_steps),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageRecord:
        if d.get("format") != cls.FORMAT:
            raise SpecError(f"image spec record of format {d.get('format')!r}: this Flyray "
                            f"reads format {cls.FORMAT}; register the task with this Flyray")
        return cls(
            name=d["name"],
            id=d["id"],
            python_version=d["python_version"],
            packages=tuple(d["packages"]),
            pip_options=tuple(d["pip_options"]),
            env=tuple(d["env"].items()),
            base_image=d["base_image"],
            build_steps=tuple(d["build_steps"].items()),
        )


# How a secret is put where the task runs (flytekit's Secret.MountType): ANY, read with
# ``current_context().secrets.get``; ENV_VAR, also in the environment; FILE, also a file.
SECRET_MOUNTS = ("ANY", "ENV_VAR", "FILE")


@dataclass(frozen=True)
class SecretRequest:
    """A secret a task asks for: its name and how it is mounted; never its value.

    Invariant: the JSON of a request mounted ANY is ``[group, key]``, as before mounts
    were recorded, so the specs (and versions) of such tasks did not change.
    """

    group: str
    key: str = ""  # "" for a group holding a single value
    mount: str = "ANY"  # one of SECRET_MOUNTS

    def to_json(self) -> list[str]:
        pair = [self.group, self.key]
        return pair if self.mount == "ANY" else [*pair, self.mount]

    @classmethod
    def from_json(cls, value: list[str]) -> SecretRequest:
        if not 2 <= len(value) <= 3 or (len(value) == 3 and value[2] not in SECRET_MOUNTS):
            raise SpecError(f"secret request {value!r}: expected [group, key] or "
                            f"[group, key, mount] with mount one of {SECRET_MOUNTS}")
        return cls(*value)


@dataclass(frozen=True)
class TaskMetadata:
    cache: bool = False
    cache_version: str = ""
    retries: int = 0
    timeout_s: float | None = None
    interruptible: bool = False
    requests: ResourceSpec = ResourceSpec()
    limits: ResourceSpec = ResourceSpec()
    # The secrets the task asks for.
    secrets: tuple[SecretRequest, ...] = ()
    # The image's name; for an ImageSpec, its full name, and ``image_spec`` records it.
    container_image: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    # cache_serialize: concurrent runs of one cache key wait for a single computation.
    cache_serialize: bool = False
    # Inputs left out of the cache key.
    cache_ignore_input_vars: tuple[str, ...] = ()
    # Set when the image is an ImageSpec: the task's Ray runtime environment. Absent from
    # the JSON otherwise, so that the specs (and versions) of other tasks do not change.
    image_spec: ImageRecord | None = None
    # enable_deck: the decks each attempt writes (DeckField values: "Input", "Output",
    # ...) besides the task's own; None: the task writes no deck. Absent from the JSON
    # when None, so that other tasks' versions do not change.
    deck_fields: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "cache": self.cache,
            "cache_version": self.cache_version,
            "retries": self.retries,
            "timeout_s": self.timeout_s,
            "interruptible": self.interruptible,
            "requests": self.requests.to_dict(),
            "limits": self.limits.to_dict(),
            "secrets": [s.to_json() for s in self.secrets],
            "container_image": self.container_image,
            "environment": dict(self.environment),
            "cache_serialize": self.cache_serialize,
            "cache_ignore_input_vars": list(self.cache_ignore_input_vars),
        }
        if self.image_spec is not None:
            d["image_spec"] = self.image_spec.to_dict()
        if self.deck_fields is not None:
            d["deck_fields"] = list(self.deck_fields)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskMetadata:
        return cls(
            cache=d["cache"],
            cache_version=d["cache_version"],
            retries=d["retries"],
            timeout_s=d["timeout_s"],
            interruptible=d["interruptible"],
            requests=ResourceSpec.from_dict(d["requests"]),
            limits=ResourceSpec.from_dict(d["limits"]),
            secrets=tuple(SecretRequest.from_json(s) for s in d["secrets"]),
            container_image=d["container_image"],
            environment=tuple(d["environment"].items()),
            cache_serialize=d.get("cache_serialize", False),
            cache_ignore_input_vars=tuple(d.get("cache_ignore_input_vars", ())),
            image_spec=ImageRecord.from_dict(d["image_spec"]) if d.get("image_spec") else None,
            deck_fields=tuple(d["deck_fields"]) if d.get("deck_fields") is not None else None,
        )


@dataclass(frozen=True)
class ContainerSpec:
    """What a raw-container task (``ContainerTask``) runs in its image (the metadata's
    ``container_image``), with Flyte's data loading: one file per input in
    ``input_data_dir`` and one per output in ``output_data_dir``, named after it."""

    command: tuple[str, ...]
    arguments: tuple[str, ...] = ()
    input_data_dir: str = "/var/inputs"
    output_data_dir: str = "/var/outputs"
    # Format of the file holding all inputs, written next to them: JSON or YAML.
    metadata_format: str = "JSON"

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "arguments": list(self.arguments),
            "input_data_dir": self.input_data_dir,
            "output_data_dir": self.output_data_dir,
            "metadata_format": self.metadata_format,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerSpec:
        return cls(tuple(d["command"]), tuple(d["arguments"]), d["input_data_dir"],
                   d["output_data_dir"], d["metadata_format"])


@dataclass(frozen=True)
class TaskSpec:
    """A task: identity, typed interface, metadata, and where its code lives."""

    id: Identifier
    interface: Interface
    metadata: TaskMetadata
    # Import path of the task object: module and attribute name.
    module: str
    attribute: str
    # Set for raw-container tasks only; absent from the JSON otherwise.
    container: ContainerSpec | None = None
    # Set for the stub of a ``reference_task``/``reference_launch_plan``: the registered
    # entity its node runs. A stub is not registered itself; absent from the JSON otherwise.
    reference: Identifier | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id.to_dict(),
            "interface": self.interface.to_dict(),
            "metadata": self.metadata.to_dict(),
            "module": self.module,
            "attribute": self.attribute,
        }
        if self.container is not None:
            d["container"] = self.container.to_dict()
        if self.reference is not None:
            d["reference"] = self.reference.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        return cls(
            Identifier.from_dict(d["id"]),
            Interface.from_dict(d["interface"]),
            TaskMetadata.from_dict(d["metadata"]),
            d["module"],
            d["attribute"],
            ContainerSpec.from_dict(d["container"]) if d.get("container") else None,
            Identifier.from_dict(d["reference"]) if d.get("reference") else None,
        )
