"""The process of a Ray head of Flyray's own: the head's processes, started in-process.

``python -m engine.dag.run.head_node --temp-dir DIR --port N --dashboard-port N
--agent-port N [RAY START OPTIONS]``, started by :mod:`engine.dag.run.ray_head` in a
session of its own. It does what ``ray start --head --block`` does for Flyray's heads,
through the path ``ray.init()`` takes to start a local cluster (``ray._private.node``):
``ray start`` imports Ray's whole command line first (Serve, the autoscaler, FastAPI,
pandas), which costs each start about 2 s of CPU. It starts the GCS, the raylet with its
agents, the dashboard and the log monitor, all on 127.0.0.1; not what no Flyray part
uses: the Ray Client server (``ray://``), and the autoscaler's monitor (a head on one
machine never scales). With ``--include-dashboard false`` the dashboard runs without its
web UI and job API (Ray starts its process all the same), which saves a start about 2 s
of CPU, most of it while every other part waits. Once every process runs it writes
the head's address to ``DIR/ray_current_cluster`` (as ``ray start`` does), then
watches them: when one of them ends, it ends the others and exits with status 1.

It imports only Ray's node modules and the standard library: it runs on the critical
path of every cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_WATCH_INTERVAL_S = 1.0


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"true or false, not {text!r}")
    return text.lower() == "true"


# The options of `ray start` that Flyray's heads take (ray_head.resource_args, the worker
# port range, whether the dashboard serves its UI), by the same names.
_RAY_START_OPTIONS: dict[str, Callable[[str], Any]] = {
    "--num-cpus": int, "--num-gpus": int, "--object-store-memory": int,
    "--system-config": json.loads, "--min-worker-port": int, "--max-worker-port": int,
    "--include-dashboard": _boolean}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine.dag.run.head_node")
    parser.add_argument("--temp-dir", required=True, help="Ray's temp dir for this head")
    parser.add_argument("--port", type=int, required=True, help="the GCS port")
    parser.add_argument("--dashboard-port", type=int, required=True)
    parser.add_argument("--agent-port", type=int, required=True,
                        help="the dashboard agent's HTTP port (the job agent)")
    for option, kind in _RAY_START_OPTIONS.items():
        parser.add_argument(option, type=kind, default=None)
    parser.set_defaults(include_dashboard=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Ray's single-machine mode, read at import: without it, on Linux, Ray swaps 127.0.0.1
    # for the machine's network address and listens on every interface. Its processes
    # inherit it.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    # Imported here, after that. Ray's node API is private; Flyray pins Ray's version.
    from ray._common.usage import usage_lib
    from ray._private import utils
    from ray._private.node import Node
    from ray._private.parameter import RayParams
    from ray._private.resource_isolation_config import ResourceIsolationConfig

    usage_lib.set_usage_stats_enabled_via_env_var(False)
    params = RayParams(
        node_ip_address="127.0.0.1", node_name="127.0.0.1", gcs_server_port=args.port,
        temp_dir=args.temp_dir, include_dashboard=args.include_dashboard,
        dashboard_host="127.0.0.1",
        dashboard_port=args.dashboard_port, dashboard_agent_listen_port=args.agent_port,
        num_cpus=args.num_cpus, num_gpus=args.num_gpus,
        object_store_memory=args.object_store_memory, _system_config=args.system_config,
        min_worker_port=args.min_worker_port, max_worker_port=args.max_worker_port,
        no_monitor=True,
        resource_isolation_config=ResourceIsolationConfig(enable_resource_isolation=False))
    # As `ray start --block`: on SIGTERM, and at exit, the node ends its processes (no
    # reaper: stopping ends the whole session anyway).
    node = Node(params, head=True, shutdown_at_exit=True, spawn_reaper=False)
    utils.write_ray_address(node.address, args.temp_dir)
    print(f"Ray head up at {node.address}, temp dir {args.temp_dir}", flush=True)
    while True:
        time.sleep(_WATCH_INTERVAL_S)
        ended = node.dead_processes()
        if ended:
            names = ", ".join(f"{kind} (exit status {process.returncode})"
                              for kind, process in ended)
            print(f"Ray head: {names} ended; stopping the others. The logs of each are "
                  f"under {node.get_logs_dir_path()}", flush=True)
            return 1


if __name__ == "__main__":
    sys.exit(main())
