"""``GET /healthz``: the server answers and its database does."""

from __future__ import annotations

from fastapi import APIRouter

from serve.api.deps import Store
from serve.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(store: Store) -> Health:
    store.ping()
    return Health(status="ok")
