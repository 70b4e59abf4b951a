"""The web console at ``/console``: server-rendered pages (Jinja2) over the same store
and services as the JSON API, with one hand-written JavaScript module for the graph,
the timeline and live updates. Imports no Ray.

``serve.console.router.install(app)`` adds it to the admin app: its static files, the
login pages (``auth``) and the pages themselves.
"""
