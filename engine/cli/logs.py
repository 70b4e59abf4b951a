"""``flyray logs EXECUTION [NODE]``: what the tasks of an execution printed and logged.

A remote execution's logs come from the admin API (``FlyteRemote.get_logs`` and
``follow_logs``); an execution the admin does not know (or with no admin running) is
looked up in this machine's blob store, where a local run keeps its logs
(``logs/<execution>/<node>/<attempt>``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import click

from engine.catalog.blob import BlobStore, StorageConfig
from engine.cli.common import admin_options, scope_options, settings, with_cli_errors
from engine.cli.remote import flyte_remote
from engine.errors import EntityNotFoundError, FlyrayError
from engine.logs.store import LogStore
from engine.remote import FlyteRemote

POLL_S = 0.5  # how often a local log being written is read again


@click.command(help="Show what a node of an execution printed and logged (every node "
               "without NODE): its last attempt, or --attempt N.")
@click.argument("execution")
@click.argument("node", required=False)
@click.option("--attempt", type=click.IntRange(min=1), default=None,
              help="The attempt (1 for the first; default: the last).")
@click.option("--follow", "-f", is_flag=True, default=False,
              help="Keep printing lines as they are written, until the attempt (without "
                   "NODE: the execution) ends.")
@click.option("--tail", type=click.IntRange(min=1), default=None,
              help="Only the last N lines (of each node).")
@scope_options
@admin_options
@with_cli_errors
def logs(execution: str, node: str | None, attempt: int | None, follow: bool,
         tail: int | None, project: str | None, domain: str | None, endpoint: str | None,
         token: str | None) -> None:
    if attempt is not None and node is None:
        raise click.UsageError("--attempt needs a NODE: attempts are numbered per node")
    remote = flyte_remote(endpoint, token, project, domain)
    try:
        _remote_logs(remote, execution, node, attempt, follow, tail)
    except (EntityNotFoundError, ConnectionError) as e:
        local = _LocalLogs(execution)
        if not local.exists():
            raise
        _print_local(local, node, attempt, follow, tail, e)


def _remote_logs(remote: FlyteRemote, execution: str, node: str | None,
                 attempt: int | None, follow: bool, tail: int | None) -> None:
    pieces = remote.get_logs(execution, node, attempt, tail=tail)
    if not pieces and not follow:
        click.echo(f"execution {execution} kept no logs (yet): none of its nodes started "
                   "an attempt", err=True)
    if not follow:
        for piece in pieces:
            _echo(piece.node_id, piece.attempt, piece.text, several=node is None)
        return
    if node is not None:
        first = pieces[0]
        click.echo(first.text, nl=False)
        if not first.complete:
            for text in remote.follow_logs(execution, node, first.attempt, since=first.next):
                click.echo(text, nl=False)
        return
    for piece in remote.follow_execution_logs(execution):
        _echo(piece.node_id, piece.attempt, piece.text, several=True, header=False)


def _echo(node_id: str, attempt: int, text: str, several: bool, header: bool = True) -> None:
    """One node's text; with several nodes, each line names its node (and a header
    line starts each node's log when printed whole)."""
    if not several:
        click.echo(text, nl=False)
        return
    if header:
        click.echo(f"==> {node_id} (attempt {attempt}) <==")
    for line in text.splitlines():
        click.echo(f"[{node_id}] {line}" if not header else line)


class _LocalLogs:
    """The logs a local run kept in this machine's blob store."""

    def __init__(self, execution: str) -> None:
        self.blobs = BlobStore(StorageConfig.from_settings(settings()))
        self.store = LogStore(self.blobs)
        self.execution = execution
        self.root = self.blobs.uri("logs", execution)

    def exists(self) -> bool:
        try:
            return self.blobs.exists(self.root)
        except FlyrayError:
            return False

    def attempts(self) -> dict[str, list[int]]:
        """Node id -> its attempts with a log, in order."""
        found: dict[str, set[int]] = {}
        for uri in self.blobs.find(self.root):
            parts = uri[len(self.root):].strip("/").split("/")
            if len(parts) == 3 and parts[1].isdigit():
                found.setdefault(parts[0], set()).add(int(parts[1]))
        return {node: sorted(numbers) for node, numbers in sorted(found.items())}

    def uri(self, node: str, attempt: int) -> str:
        return self.blobs.uri("logs", self.execution, node, str(attempt))

    def follow(self, uri: str, since: int) -> Iterator[str]:
        while True:
            piece = self.store.read(uri, since)
            if piece.text:
                yield piece.text
            elif piece.complete:
                return
            else:
                time.sleep(POLL_S)
            since = piece.next


def _print_local(local: _LocalLogs, node: str | None, attempt: int | None, follow: bool,
                 tail: int | None, remote_error: Exception) -> None:
    attempts = local.attempts()
    nodes = [node] if node is not None else list(attempts)
    for name in nodes:
        numbers = attempts.get(name, [])
        if not numbers or (attempt is not None and attempt not in numbers):
            which = f"attempt {attempt} of node" if attempt is not None else "node"
            kept = ", ".join(f"{n} (attempts {', '.join(map(str, a))})"
                             for n, a in attempts.items()) or "none"
            raise click.ClickException(
                f"local execution {local.execution} kept no log of {which} {name!r}; its "
                f"logs: {kept} (and the admin API: {remote_error})")
        number = attempt if attempt is not None else numbers[-1]
        uri = local.uri(name, number)
        piece = local.store.tail(uri, tail) if tail is not None else local.store.read(uri)
        _echo(name, number, piece.text, several=node is None)
        if follow and not piece.complete:
            for text in local.follow(uri, piece.next):
                _echo(name, number, text, several=node is None, header=False)
