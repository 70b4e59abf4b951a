"""Identifiers of registered entities: what a task, workflow or launch plan is called.

A leaf of the spec: plain data that imports nothing else of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class ResourceType(str, Enum):
    TASK = "task"
    WORKFLOW = "workflow"
    LAUNCH_PLAN = "launch_plan"


@dataclass(frozen=True)
class Identifier:
    """Names one registered entity; registered entities never change."""

    resource_type: ResourceType
    project: str
    domain: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.resource_type.value}:{self.project}/{self.domain}/{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_type": self.resource_type.value,
            "project": self.project,
            "domain": self.domain,
            "name": self.name,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Identifier:
        return cls(
            ResourceType(d["resource_type"]), d["project"], d["domain"], d["name"], d["version"]
        )
