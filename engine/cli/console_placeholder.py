"""A placeholder for the web console, served by the demo at ``/console`` until the admin
app serves the real one: the demo hands :func:`page` to the admin's deployment
(``serve.deployment.start``), whose replica serves it beside the API.

Every console URL the CLI prints (``/console/projects/{p}/domains/{d}/executions/{name}``)
answers with a small page linking to the API resources that hold the same data.
"""

from __future__ import annotations

import html
import re

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
