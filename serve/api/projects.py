"""Projects and their domains: ``/api/v1/projects``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from serve.api.deps import PROJECTS, Store
from serve.api.errors import ERROR_RESPONSES, created_responses
from serve.api.params import ProjectId
from serve.api.schemas import ProjectCreate, ProjectList, ProjectModel
from serve.store import DEFAULT_DOMAINS, Domain, ListOptions, Project

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.post("", response_model=ProjectModel, status_code=201,
             responses=created_responses(ProjectModel, "an identical project existed"),
             summary="Create a project (an identical existing one is returned, 200)")
def create_project(body: ProjectCreate, response: Response, store: Store) -> ProjectModel:
    domains = (tuple(Domain(d.id, d.name) for d in body.domains) if body.domains
               else tuple(Domain(d, d) for d in DEFAULT_DOMAINS))
    project, created = store.create_project(
        Project(body.id, body.name or body.id, body.description, domains))
    response.status_code = 201 if created else 200
    return ProjectModel.of(project)


@router.get("", response_model=ProjectList, summary="List projects")
def list_projects(store: Store, options: Annotated[ListOptions, Depends(PROJECTS)]
                  ) -> ProjectList:
    page = store.list_projects(options)
    return ProjectList(projects=[ProjectModel.of(p) for p in page.items], token=page.token)


@router.get("/{project}", response_model=ProjectModel, summary="Get a project")
def get_project(project: ProjectId, store: Store) -> ProjectModel:
    return ProjectModel.of(store.get_project(project))
