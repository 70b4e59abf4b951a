"""The admin API's OpenAPI document as FastAPI builds it, finished in one place: links from
the operations that create things to those that read (and act on) them, and without the
422 answers FastAPI documents by default (validation errors answer 400 here,
``serve.api.errors``).

Links are how a client (or schemathesis's stateful phase) learns that the ``id`` a
registration answers names the entity ``GET /api/v1/tasks/{project}/...`` reads.
Invariant: every link's source answers 200/201 with a body holding the expressions'
paths, and every target is an operation of the document (checked on build).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

API = "/api/v1"
_ENTITY_ID = {p: f"$response.body#/id/{p}" for p in ("project", "domain", "name", "version")}
_EXECUTION_ID = {p: f"$response.body#/id/{p}" for p in ("project", "domain", "name")}


def _reads(plural: str, ids: str) -> list[str]:
    base = f"{API}/{plural}/{{project}}/{{domain}}"
    return [f"GET {base}/{{name}}/{{version}}", f"GET {base}/{{name}}", f"GET {base}",
            f"GET {API}/{ids}/{{project}}/{{domain}}"]


_EXECUTION = f"{API}/executions/{{project}}/{{domain}}/{{name}}"
_EXECUTION_READS = [
    f"GET {_EXECUTION}", f"DELETE {_EXECUTION}", f"GET {_EXECUTION}/changes",
    f"GET {_EXECUTION}/notifications",
    f"GET {API}/node_executions/{{project}}/{{domain}}/{{name}}",
    f"GET {API}/data/executions/{{project}}/{{domain}}/{{name}}",
    f"GET {API}/signals/{{project}}/{{domain}}/{{name}}",
    f"GET {API}/executions/{{project}}/{{domain}}",
]


def _launch(kind: str) -> dict[str, Any]:
    """The body of a launch of the entity the response names."""
    ref = {"name": "$response.body#/id/name", "version": "$response.body#/id/version"}
    return {"project": "$response.body#/id/project", "domain": "$response.body#/id/domain",
            kind: ref}


_AGAIN = {"id": {"project": "$response.body#/id/project", "domain": "$response.body#/id/domain",
                 "name": "$response.body#/id/name"}}
# source operation -> (its answer's values of path parameters, [(target, body or None)])
LINKS: dict[str, tuple[dict[str, str], list[tuple[str, dict[str, Any] | None]]]] = {
    f"POST {API}/projects": (
        {"project": "$response.body#/id", "domain": "$response.body#/domains/0/id"},
        [(f"GET {API}/projects/{{project}}", None),
         *[(f"GET {API}/{plural}/{{project}}/{{domain}}", None)
           for plural in ("tasks", "workflows", "launch_plans", "executions", "task_ids",
                          "workflow_ids", "launch_plan_ids", "active_launch_plans",
                          "schedules")]]),
    f"POST {API}/tasks": (
        _ENTITY_ID, [*[(t, None) for t in _reads("tasks", "task_ids")],
                     (f"POST {API}/executions", _launch("task"))]),
    f"POST {API}/workflows": (
        _ENTITY_ID, [*[(t, None) for t in _reads("workflows", "workflow_ids")],
                     # Registering a workflow registers its default launch plan too.
                     *[(t, None) for t in _reads("launch_plans", "launch_plan_ids")],
                     (f"POST {API}/executions", _launch("workflow"))]),
    f"POST {API}/launch_plans": (
        _ENTITY_ID, [*[(t, None) for t in _reads("launch_plans", "launch_plan_ids")],
                     (f"PUT {API}/launch_plans/{{project}}/{{domain}}/{{name}}/{{version}}",
                      {"state": "ACTIVE"}),
                     (f"GET {API}/active_launch_plans/{{project}}/{{domain}}/{{name}}", None),
                     (f"GET {API}/active_launch_plans/{{project}}/{{domain}}", None),
                     (f"GET {API}/schedules/{{project}}/{{domain}}/{{name}}", None),
                     (f"POST {API}/executions", _launch("launch_plan"))]),
    **{f"POST {API}/executions{suffix}": (
        _EXECUTION_ID, [*[(t, None) for t in _EXECUTION_READS],
                        (f"POST {API}/executions/relaunch", _AGAIN),
                        (f"POST {API}/executions/recover", _AGAIN)])
       for suffix in ("", "/relaunch", "/recover")},
    f"GET {API}/node_executions/{{project}}/{{domain}}/{{name}}": (
        {"project": "$response.body#/node_executions/0/id/execution_id/project",
         "domain": "$response.body#/node_executions/0/id/execution_id/domain",
         "name": "$response.body#/node_executions/0/id/execution_id/name",
         "node_id": "$response.body#/node_executions/0/id/node_id"},
        [(f"GET {API}/{what}/{{project}}/{{domain}}/{{name}}/{{node_id}}", None)
         for what in ("node_executions", "data/node_executions", "logs", "decks")]),
}


def _operation(document: dict[str, Any], key: str) -> dict[str, Any]:
    method, path = key.split(" ", 1)
    try:
        operation: dict[str, Any] = document["paths"][path][method.lower()]
    except KeyError:
        raise AssertionError(f"the OpenAPI links name {key}, which is no operation") from None
    return operation


def _add_links(document: dict[str, Any]) -> None:
    for source, (values, targets) in LINKS.items():
        links: dict[str, Any] = {}
        for target, body in targets:
            operation = _operation(document, target)
            names = [p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"]
            link: dict[str, Any] = {"operationId": operation["operationId"],
                                    "parameters": {n: values[n] for n in names}}
            if body is not None:
                link["requestBody"] = body
            links[operation["operationId"]] = link
        for status, response in _operation(document, source)["responses"].items():
            if status in ("200", "201"):
                response["links"] = links


def _drop_422(document: dict[str, Any]) -> None:
    for methods in document["paths"].values():
        for operation in methods.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def install(app: FastAPI) -> None:
    """Serve ``app``'s document finished as this module says (built once, on first ask)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version,
                                   description=app.description, routes=app.routes)
            _drop_422(document)
            _add_links(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
