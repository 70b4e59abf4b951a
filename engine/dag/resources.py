"""Resource requests and secrets, with Kubernetes-style quantities as in flytekit."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import ClassVar

from engine.dag.spec import ResourceSpec
from engine.dag.spec.task import SecretRequest
from engine.errors import ConfigError

_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_quantity(value: str | int | float, what: str) -> float:
    """A Kubernetes quantity ("500m", "100Mi", "2Gi", "1.5") as a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{what}: {value} is negative")
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _SUFFIX:
        raise ConfigError(
            f"{what}: {value!r} is not a quantity; use a number with an optional suffix, "
            "e.g. cpu='500m' or '2', mem='100Mi', '2Gi' or '1G'"
        )
    return float(match.group(1)) * _SUFFIX[match.group(2)]


@dataclass(frozen=True)
class Resources:
    """Compute resources of a task, as ``flytekit.Resources``.

    Args:
        cpu: cores, e.g. "500m" (half a core), "2" or 2.
        mem: bytes with a suffix, e.g. "100Mi", "2Gi".
        gpu: number of GPUs, e.g. "1".
        ephemeral_storage: accepted for compatibility; Ray does not schedule on it.
    """

    cpu: str | int | float | None = None
    mem: str | int | float | None = None
    gpu: str | int | float | None = None
    ephemeral_storage: str | int | float | None = None

    def to_spec(self, what: str) -> ResourceSpec:
        """Normalised numbers; raises ConfigError naming ``what`` on a bad quantity."""
        cpu = parse_quantity(self.cpu, f"{what}: cpu") if self.cpu is not None else None
        mem = parse_quantity(self.mem, f"{what}: mem") if self.mem is not None else None
        gpu = parse_quantity(self.gpu, f"{what}: gpu") if self.gpu is not None else None
        return ResourceSpec(cpu=cpu, mem=int(mem) if mem is not None else None, gpu=gpu)


class MountType(enum.Enum):
    """Where a requested secret is put while the task runs, as flytekit's: ANY, read with
    ``current_context().secrets.get`` only; ENV_VAR, also the environment variable
    ``get_secrets_env_var(group, key)``; FILE, also the file ``get_secrets_file(group,
    key)``, readable by the task's user only."""

    ANY = "ANY"
    ENV_VAR = "ENV_VAR"
    FILE = "FILE"


_MountType = MountType  # the enum, as the class body below names its alias the same


@dataclass(frozen=True)
class Secret:
    """A secret a task asks for, as ``flytekit.Secret``."""

    # flytekit's spelling: Secret.MountType.ENV_VAR.
    MountType: ClassVar[type[_MountType]] = _MountType

    group: str
    key: str | None = None
    group_version: str | None = None
    mount_requirement: _MountType = _MountType.ANY
    env_var: str | None = None

    def to_request(self, what: str) -> SecretRequest:
        """As the task spec records it; raises ConfigError naming ``what`` if malformed."""
        if not isinstance(self.group, str) or not self.group or not (
                self.key is None or isinstance(self.key, str)):
            raise ConfigError(f"{what}: Secret(group={self.group!r}, key={self.key!r}): the "
                              "group must be a non-empty string and the key a string or None")
        if not isinstance(self.mount_requirement, _MountType):
            raise ConfigError(f"{what}: secret '{self.group}': mount_requirement must be "
                              "Secret.MountType.ANY, ENV_VAR or FILE, got "
                              f"{self.mount_requirement!r}")
        return SecretRequest(self.group, self.key or "", self.mount_requirement.value)


def secret_requests_spec(what: str, secrets: list[Secret] | None) -> tuple[SecretRequest, ...]:
    """A task's ``secret_requests`` as its spec records them; ConfigError if malformed."""
    for secret in secrets or ():
        if not isinstance(secret, Secret):
            raise ConfigError(f"{what}: secret_requests must hold Secret(group=..., key=...) "
                              f"values, got {secret!r}")
    return tuple(s.to_request(what) for s in secrets or ())
