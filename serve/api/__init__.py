"""The admin API's routers, one per resource, under /api/v1."""
