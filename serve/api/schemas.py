"""Request and response models of projects, registered entities and launch plans
(pydantic), apart from rows and specs; and what every route shares: the base of requests,
identifiers, the error body, the health answer.

Requests forbid unknown fields, so a misspelt field is a 400 naming it rather than
silently ignored. Specs travel as the engine's JSON form (``spec`` objects); a launch
plan's spec is typed here because the control plane owns it. Executions and schedules
have their models in ``execution_schemas`` and ``schedule_schemas``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from engine.dag.spec import Identifier, ResourceType
from serve.api.params import DomainId, Name, ProjectId, Version
from serve.store.records import Entity, LaunchPlanEntity, NamedEntity, Project


class RequestModel(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class IdentifierModel(RequestModel):
    """Names one registered entity: {resource_type, project, domain, name, version}."""

    resource_type: Literal["task", "workflow", "launch_plan"]
    project: ProjectId
    domain: DomainId
    name: Name
    version: Version

    def to_identifier(self) -> Identifier:
        return Identifier(ResourceType(self.resource_type), self.project, self.domain,
                          self.name, self.version)

    @classmethod
    def of(cls, ident: Identifier) -> IdentifierModel:
        return cls.model_validate(ident.to_dict())


CODE_URI_HELP = ("Where the entity's code bundle lives (a zip with one top-level directory, "
                 "e.g. s3://bucket/code/<hash>.zip or file:///path/<hash>.zip), as 'flyray "
                 "register' uploads it; remote executions run the entity's code from it.")


class CodeRegisterRequest(RequestModel):
    """A task or workflow to register, with the code bundle it runs from (optional)."""

    id: IdentifierModel
    spec: dict[str, Any]  # the JSON of the spec's to_dict()
    code_uri: str | None = Field(default=None, description=CODE_URI_HELP)


class LaunchPlanSpecModel(RequestModel):
    """A launch plan: a workflow with default and fixed inputs (JSON literals)."""

    id: IdentifierModel
    workflow_id: IdentifierModel
    default_inputs: dict[str, Any] = Field(default_factory=dict)
    fixed_inputs: dict[str, Any] = Field(default_factory=dict)
    schedule: dict[str, Any] | None = Field(
        default=None, description=(
            "Fires the launch plan while this version is ACTIVE (times in UTC): "
            "{\"cron_schedule\": {\"schedule\": \"@hourly\", \"offset\": null}} or "
            "{\"rate\": {\"value\": 1, \"unit\": \"DAY\"}}, with "
            "\"kickoff_time_input_arg\" (the datetime input that gets the scheduled time) "
            "and \"catch_up\" (true: fire every missed tick after downtime; false: only "
            "the latest). null: launched on request only."))
    max_parallel_executions: StrictInt | None = Field(default=None, ge=1)
    raw_output_data_config: dict[str, Any] | None = Field(default=None, description=(
        "{\"output_location_prefix\": \"s3://bucket/raw\"}: where its executions write "
        "raw outputs (inside a configured blob store), unless a launch says otherwise."))
    labels: dict[str, str] = Field(default_factory=dict, description=(
        "Kubernetes-style labels its executions get (a launch may add or override)."))
    annotations: dict[str, str] = Field(default_factory=dict, description=(
        "Kubernetes-style annotations its executions get (a launch may add or override)."))
    notifications: list[dict[str, Any]] = Field(default_factory=list, description=(
        "Sent when an execution ends in one of their phases (SUCCEEDED, FAILED, "
        "TIMED_OUT, ABORTED): {\"phases\": [\"FAILED\"], \"email\": {\"recipients_email\": "
        "[...]}}, or \"slack\" (recipients_email, webhook_url), \"pager_duty\" "
        "(recipients_email, routing_key) or \"webhook\" (url) in place of \"email\"."))


class CodeLaunchPlanRegisterRequest(RequestModel):
    """A launch plan version to register, with the code bundle it runs from (optional)."""

    id: IdentifierModel
    spec: LaunchPlanSpecModel
    code_uri: str | None = Field(default=None, description=CODE_URI_HELP)


class LaunchPlanStateUpdate(RequestModel):
    state: Literal["ACTIVE", "INACTIVE"]


class DomainModel(RequestModel):
    id: DomainId
    name: str = Field(min_length=1, max_length=255)


class ProjectCreate(RequestModel):
    """A new project; ``domains`` default to development, staging and production."""

    id: ProjectId
    name: str | None = Field(default=None, max_length=255,
                             description="Display name; defaults to the id.")
    description: str = Field(default="", max_length=10_000)
    domains: list[DomainModel] | None = Field(default=None, min_length=1, max_length=100)


class ProjectModel(BaseModel):
    id: str
    name: str
    description: str
    domains: list[DomainModel]
    created_at: dt.datetime | None

    @classmethod
    def of(cls, project: Project) -> ProjectModel:
        return cls(id=project.id, name=project.name, description=project.description,
                   domains=[DomainModel(id=d.id, name=d.name) for d in project.domains],
                   created_at=project.created_at)


class ProjectList(BaseModel):
    projects: list[ProjectModel]
    token: str = Field(description="Pass as ?token= for the next page; empty on the last.")


class EntityModel(BaseModel):
    """A registered task or workflow."""

    id: IdentifierModel
    spec: dict[str, Any]
    created_at: dt.datetime
    code_uri: str | None = Field(description="Where the entity's code bundle lives.")

    @classmethod
    def of(cls, entity: Entity) -> EntityModel:
        return cls(id=IdentifierModel.of(entity.id), spec=entity.spec,
                   created_at=entity.created_at, code_uri=entity.code_uri)


class LaunchPlanModel(EntityModel):
    state: Literal["ACTIVE", "INACTIVE"]
    state_updated_at: dt.datetime

    @classmethod
    def of(cls, entity: Entity) -> LaunchPlanModel:
        assert isinstance(entity, LaunchPlanEntity)
        return cls(id=IdentifierModel.of(entity.id), spec=entity.spec,
                   created_at=entity.created_at, code_uri=entity.code_uri,
                   state=entity.state.value, state_updated_at=entity.state_updated_at)


class TaskList(BaseModel):
    tasks: list[EntityModel]
    token: str


class WorkflowList(BaseModel):
    workflows: list[EntityModel]
    token: str


class LaunchPlanList(BaseModel):
    launch_plans: list[LaunchPlanModel]
    token: str


class NamedEntityIdentifier(BaseModel):
    project: str
    domain: str
    name: str

    @classmethod
    def of(cls, named: NamedEntity) -> NamedEntityIdentifier:
        return cls(project=named.project, domain=named.domain, name=named.name)


class NamedEntityIdentifierList(BaseModel):
    entities: list[NamedEntityIdentifier]
    token: str


class ErrorBody(BaseModel):
    kind: str = Field(description="INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, "
                                  "UNAUTHENTICATED, PAYLOAD_TOO_LARGE, UNAVAILABLE, ...")
    message: str
    paths: list[str] | None = Field(default=None, description="ALREADY_EXISTS: the JSON "
                                    "paths at which the spec differs from the registered one")


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"]
