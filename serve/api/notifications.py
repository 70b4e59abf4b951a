"""The notifications of an execution and where their delivery stands:
``GET /api/v1/executions/{project}/{domain}/{name}/notifications``.

One item per notification of the execution's launch plan that its end fired (none while
it runs, and none for phases a notification does not name), in the launch plan's order,
with its attempts, last error and when it was sent (``serve.control.notifier``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from engine.dag.run.state import ExecutionPhase
from engine.dag.spec.notification import NotificationKind
from serve.api.deps import Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.params import DomainId, Name, ProjectId
from serve.store.execution_records import ExecutionId
from serve.store.notifications import Delivery, DeliveryStatus

router = APIRouter(tags=["executions"], responses=ERROR_RESPONSES)


class NotificationModel(BaseModel):
    position: int = Field(description="Its place in the launch plan's notifications.")
    kind: NotificationKind
    notification: dict[str, Any] = Field(description="As the launch plan's spec has it.")
    phase: ExecutionPhase = Field(description="The phase the execution ended in.")
    status: DeliveryStatus = Field(description="PENDING (to send, or being sent), SENT, "
                                               "or FAILED (given up).")
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed; null once "
                                               "sent.")
    created_at: dt.datetime
    attempted_at: dt.datetime | None = Field(description="When the last attempt ended.")
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None = Field(description="PENDING: when the next "
                                                            "attempt is due.")

    @classmethod
    def of(cls, delivery: Delivery) -> NotificationModel:
        return cls(position=delivery.position, kind=delivery.notification.kind,
                   notification=delivery.notification.to_dict(), phase=delivery.phase,
                   status=delivery.status, attempts=delivery.attempts,
                   last_error=delivery.last_error, created_at=delivery.created_at,
                   attempted_at=delivery.attempted_at, sent_at=delivery.sent_at,
                   next_attempt_at=delivery.next_attempt_at)


class NotificationList(BaseModel):
    notifications: list[NotificationModel]


@router.get("/executions/{project}/{domain}/{name}/notifications",
            response_model=NotificationList,
            summary="The notifications an execution's end fired, and their delivery")
def list_notifications(project: ProjectId, domain: DomainId, name: Name,
                       store: Store) -> NotificationList:
    deliveries = store.list_notifications(ExecutionId(project, domain, name))
    return NotificationList(notifications=[NotificationModel.of(d) for d in deliveries])
