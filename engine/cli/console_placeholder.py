"""A placeholder for the web console, served by the demo at ``/console`` until the admin
app serves the real one.

Every console URL the CLI prints (``/console/projects/{p}/domains/{d}/executions/{name}``)
answers with a small page linking to the API resources that hold the same data.
"""

from __future__ import annotations

import html
import re

from ray import serve
from starlette.requests import Request
from starlette.responses import HTMLResponse

APP_NAME = "flyray-console"
ROUTE_PREFIX = "/console"
_EXECUTION = re.compile(r"/projects/([^/]+)/domains/([^/]+)/executions/([^/]+)/?$")


def page(path: str) -> str:
    """The placeholder's HTML for a console path (the part after ``/console``)."""
    links = [("Admin API reference", "/docs"), ("Projects", "/api/v1/projects")]
    match = _EXECUTION.search(path)
    if match:
        project, domain, name = (html.escape(part) for part in match.groups())
        scope = f"{project}/{domain}/{name}"
        links = [(f"Execution {name}", f"/api/v1/executions/{scope}"),
                 ("Its nodes", f"/api/v1/node_executions/{scope}"),
                 ("Its inputs and outputs", f"/api/v1/data/executions/{scope}"), *links]
    items = "".join(f'<li><a href="{href}">{label}</a></li>' for label, href in links)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Flyray console</title>"
            "</head><body><h1>Flyray console</h1><p>The web console is not built yet; "
            f"the admin API has the same data:</p><ul>{items}</ul></body></html>")


@serve.deployment(name="flyray-console-placeholder", ray_actor_options={"num_cpus": 0})
class ConsolePlaceholder:
    """Answers every path under the console's prefix with :func:`page`."""

    async def __call__(self, request: Request) -> HTMLResponse:
        path = request.url.path
        return HTMLResponse(page(path.split(ROUTE_PREFIX, 1)[-1]))


def deploy() -> None:
    """Run the placeholder at ``/console`` on the Serve instance of the connected cluster."""
    serve.run(ConsolePlaceholder.bind(), name=APP_NAME,  # type: ignore[attr-defined]
              route_prefix=ROUTE_PREFIX)
