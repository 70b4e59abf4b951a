"""Projects of the control plane, from Python: list them (flytekit's
``FlyteRemote.list_projects``) and create one (flytectl's ``create project``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.remote._admin import Lookup
from engine.remote.entities import parse_time


@dataclass(frozen=True)
class FlyteProject:
    """A project and its domains, as the admin API holds them."""

    id: str
    name: str  # display name
    description: str
    domains: tuple[str, ...]  # domain ids, as registered (development, staging, ...)
    created_at: dt.datetime | None
    reply: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The admin API's JSON of this project."""
        return dict(self.reply)

    @classmethod
    def of(cls, reply: dict[str, Any]) -> FlyteProject:
        return cls(reply["id"], reply["name"], reply.get("description", ""),
                   tuple(d["id"] for d in reply.get("domains", ())),
                   parse_time(reply.get("created_at")), reply)


class Projects(Lookup):
    """The project calls of :class:`~engine.remote.FlyteRemote`."""

    def list_projects(self, limit: int = 100) -> list[FlyteProject]:
        """Up to ``limit`` projects, by id."""
        return [FlyteProject.of(p) for p in self.paged("/api/v1/projects", "projects",
                                                       "projects", limit)]

    def create_project(self, project_id: str, name: str | None = None,
                       description: str = "",
                       domains: list[str] | None = None) -> FlyteProject:
        """Create project ``project_id`` (display ``name``: the id by default) with
        ``domains`` (default: development, staging and production). Creating the same
        project again returns it; one that exists with other content is refused
        (``AdminRequestError``, 409)."""
        body: dict[str, Any] = {"id": project_id, "description": description}
        if name:
            body["name"] = name
        if domains:
            body["domains"] = [{"id": d, "name": d} for d in domains]
        return FlyteProject.of(self.client.post("/api/v1/projects", body).body)
