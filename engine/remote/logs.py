"""Task logs of remote executions, from Python: ``FlyteRemote.get_logs`` reads what node
attempts printed and logged (``GET /api/v1/logs/...``), ``follow_logs`` follows one
attempt as it runs (``.../stream``), ``follow_execution_logs`` every node of an
execution (its change feed names the attempts as they start)."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.admin_client import AdminUnreachableError
from engine.remote._admin import Lookup, path_of


@dataclass(frozen=True)
class TaskLog:
    """A piece of the log of one attempt of a node (whole lines).

    ``next`` is the byte offset to read on from; ``complete``: the attempt ended and its
    whole log is stored, nothing more will come.
    """

    execution: str
    node_id: str
    attempt: int
    text: str
    start: int
    next: int
    complete: bool
    log_uri: str

    @classmethod
    def of(cls, reply: dict[str, Any]) -> TaskLog:
        return cls(reply["execution"], reply["node_id"], reply["attempt"], reply["text"],
                   reply["start"], reply["next"], reply["complete"], reply["log_uri"])


class Logs(Lookup):
    """The log calls of :class:`~engine.remote.FlyteRemote`."""

    # Set by FlyteRemote: where a call names no project or domain.
    default_project: str
    default_domain: str

    def get_logs(self, execution_name: str, node_id: str | None = None,
                 attempt: int | None = None, tail: int | None = None, since: int = 0,
                 project: str | None = None, domain: str | None = None) -> list[TaskLog]:
        """The log of ``node_id``'s last attempt (or of ``attempt``) of execution
        ``execution_name``, from byte ``since`` or its last ``tail`` lines; without
        ``node_id``, the last attempt's log of every node that kept one, in the
        workflow's order.

        Raises:
            EntityNotFoundError: no such execution, node or attempt, or it kept no log.
        """
        where = self._execution_path(execution_name, project, domain)
        nodes = [node_id] if node_id is not None else self._logged_nodes(where)
        query = {"attempt": attempt, "tail": tail, "since": since if tail is None else None}
        logs = []
        for node in nodes:
            with self.about(f"the log of node {node!r} of execution {where}"):
                reply = self.client.get(f"/api/v1/logs/{path_of(where)}/{path_of(node)}",
                                        **query)
            logs.append(TaskLog.of(reply))
        return logs

    def follow_logs(self, execution_name: str, node_id: str, attempt: int | None = None,
                    since: int = 0, project: str | None = None,
                    domain: str | None = None) -> Iterator[str]:
        """The text of one attempt's log (the node's last, or ``attempt``) as it is
        written, from byte ``since``, until the attempt ended. A quiet task's stream is
        picked up again where it stopped when the connection times out."""
        where = self._execution_path(execution_name, project, domain)
        path = f"/api/v1/logs/{path_of(where)}/{path_of(node_id)}"
        if attempt is None:  # pin the attempt: a retry must not switch logs half-way
            with self.about(f"the log of node {node_id!r} of execution {where}"):
                attempt = int(self.client.get(path, tail=1)["attempt"])
        offset = since
        while True:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            try:
                with self.about(f"the log of node {node_id!r} of execution {where}"):
                    for piece in self.client.stream(f"{path}/stream", attempt=attempt,
                                                    since=offset):
                        offset += len(piece)
                        yield decoder.decode(piece)
                return
            except AdminUnreachableError:
                self.client.get(path, attempt=attempt, tail=1)  # raises if the server is gone

    def follow_execution_logs(self, execution_name: str, project: str | None = None,
                              domain: str | None = None, interval_s: float = 1.0,
                              sleep: Callable[[float], None] = time.sleep
                              ) -> Iterator[TaskLog]:
        """Every node attempt's log of an execution as it is written, until the
        execution ended: pieces of new lines, attempts interleaved as they run."""
        where = self._execution_path(execution_name, project, domain)
        cursor = 0
        offsets: dict[tuple[str, int], int] = {}  # (node, attempt) -> the next byte to read
        done: set[tuple[str, int]] = set()  # logs read to their end
        while True:
            with self.about(f"execution {where}"):
                changes = self.client.get(f"/api/v1/executions/{path_of(where)}/changes",
                                          since=cursor)
            cursor = changes["seq"]
            for a in changes["attempts"]:
                if a["log_url"] is not None:
                    offsets.setdefault((a["node_id"], a["attempt"]), 0)
            for (node, number), offset in list(offsets.items()):
                if (node, number) in done:
                    continue
                piece = self.get_logs(execution_name, node, number, since=offset,
                                      project=project, domain=domain)[0]
                offsets[node, number] = piece.next
                if piece.complete:
                    done.add((node, number))
                if piece.text:
                    yield piece
            if changes["terminal"]:
                return  # every log was read once more after the end
            if not changes["more"]:
                sleep(interval_s)

    def _logged_nodes(self, where: str) -> list[str]:
        """The execution's nodes whose last attempt kept a log, in the workflow's order."""
        reply = self.get(f"/api/v1/node_executions/{path_of(where)}", f"execution {where}")
        return [n["id"]["node_id"] for n in reply["node_executions"] if n.get("log_url")]

    def _execution_path(self, name: str, project: str | None, domain: str | None) -> str:
        return f"{project or self.default_project}/{domain or self.default_domain}/{name}"
