"""The keeper of a home's local cluster: the process that leads the cluster's session.

``python -m engine.dag.run.cluster_keeper --state PATH --temp-dir DIR --gcs HOST:PORT
[--idle-timeout SECONDS] -- RAY START COMMAND...``, started by
:func:`engine.dag.run.local_cluster.start` in a session of its own. It runs the Ray head
as its child (so the head and everything Ray starts stay in its session) and stops the
whole session when the head exits, when it is asked to (SIGTERM, as ``flyray cluster
stop`` sends), or once no driver has been connected for the idle timeout. Its output,
and Ray's, go to the cluster's log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from ray._raylet import GcsClient  # type: ignore[attr-defined]  # not in Ray's stub
from ray.exceptions import RpcError

from engine.dag.run import local_cluster, ray_head


class _StopAsked(Exception):
    """SIGTERM arrived: stop the session."""


def _stop_asked(signum: int, frame: FrameType | None) -> None:
    raise _StopAsked


def _say(message: str) -> None:
    stamp = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    print(f"{stamp} flyray cluster keeper: {message}", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine.dag.run.cluster_keeper")
    parser.add_argument("--state", type=Path, required=True, help="the cluster's state.json")
    parser.add_argument("--temp-dir", type=Path, required=True, help="the head's temp dir")
    parser.add_argument("--gcs", required=True, help="the head's address, host:port")
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="stop after this many seconds without a driver")
    parser.add_argument("command", nargs="+", help="the head's `ray start` command")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_asked)
    try:
        head = subprocess.Popen(args.command, stdin=subprocess.DEVNULL)
        return _keep(head, args)
    except _StopAsked:
        _say("asked to stop: stopping the cluster")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already: see it through
        ray_head.stop_session(os.getsid(0))
        local_cluster.stop_spare(args.state.parent)  # it lives in a session of its own


def _keep(head: subprocess.Popen[bytes], args: argparse.Namespace) -> int:
    """Watch the head until it exits or the cluster has idled long enough (counted from
    now at the earliest: the run that starts the cluster connects once it is up, and the
    check under the lock waits for that run)."""
    started = time.time()
    poll = 5.0 if args.idle_timeout is None else min(5.0, max(0.5, args.idle_timeout / 5))
    client: GcsClient | None = None
    while True:
        try:
            code = head.wait(timeout=poll)
        except subprocess.TimeoutExpired:
            pass
        else:
            _say(f"the Ray head exited with status {code}: stopping the cluster")
            return 1
        # The GCS client is made once the head has written its address: made earlier,
        # it would wait for the GCS for half a minute.
        if (args.idle_timeout is not None and client is None
                and (args.temp_dir / "ray_current_cluster").is_file()):
            client = GcsClient(address=args.gcs)
        if client is not None and _idle_long_enough(client, started, args):
            with local_cluster.locked(args.state.parent):
                # Again under the lock: a run that holds it may be connecting just now.
                if _idle_long_enough(client, started, args):
                    _say(f"no driver connected for {args.idle_timeout:g} s: stopping the "
                         "cluster")
                    _forget(args.state)
                    ray_head.stop_session(os.getsid(0))
                    return 0


def _idle_long_enough(client: GcsClient, started: float, args: argparse.Namespace) -> bool:
    try:
        since = local_cluster.idle_since(client, started, args.state.parent)
    except RpcError as e:  # not answering for now: the head's exit is caught by wait()
        _say(f"could not list the cluster's drivers: {e}")
        return False
    return since is not None and time.time() - since >= float(args.idle_timeout)


def _forget(state_file: Path) -> None:
    """Remove the state file when it records this keeper (not a later cluster's)."""
    state = local_cluster.ClusterState.load(state_file)
    if state is not None and state.pid == os.getpid():
        state_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
