"""The fault suite's Ray cluster: a head and one worker node in this machine
(``ray.cluster_utils.Cluster``), so a scenario can remove a node, add one back, or stop
the whole cluster and start a new one mid-run.

Nodes are found dead within about two seconds (health checks every 500 ms, three
misses), not Ray's default half minute. Every Ray process inherits this process's
environment, so ``FLYRAY_TESTING`` and ``FLYRAY_FAILPOINTS_DIR`` set before
:meth:`ChaosCluster.start` reach the executors and task workers (see
:mod:`engine.failpoints`).
"""

from __future__ import annotations

from typing import Any

import ray
from ray.cluster_utils import Cluster

MIB = 2**20
# Ray's node health checks (GCS -> raylet), fast enough for a test to see a node go.
FAST_NODE_DEATH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                   "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}
WORKER_RESOURCE = "chaos_worker"


class ChaosCluster:
    """A head (2 CPUs) and a worker node (2 CPUs and the custom resource
    ``chaos_worker``, so work can be pinned to the node a scenario removes)."""

    def __init__(self) -> None:
        self._cluster: Any = None
        self.worker: Any = None

    @property
    def address(self) -> str:
        return str(self._cluster.address)

    def start(self) -> None:
        """Start the nodes and connect this process (``ray.init``) to them."""
        if ray.is_initialized():
            ray.shutdown()  # the test session's shared cluster, restarted lazily after
        self._cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 2, "num_gpus": 0, "object_store_memory": 200 * MIB,
            "_system_config": FAST_NODE_DEATH})
        self.add_worker()
        ray.init(address=self._cluster.address, log_to_driver=False,
                 logging_level="WARNING")
        self._cluster.wait_for_nodes()

    def add_worker(self) -> None:
        """Add the worker node (again, after :meth:`remove_worker`)."""
        self.worker = self._cluster.add_node(num_cpus=2, num_gpus=0,
                                             object_store_memory=150 * MIB,
                                             resources={WORKER_RESOURCE: 1})
        if ray.is_initialized():
            self._cluster.wait_for_nodes()

    def remove_worker(self) -> None:
        """Remove the worker node as a crash would: its raylet and workers SIGKILLed."""
        self._cluster.remove_node(self.worker, allow_graceful=False)
        self.worker = None

    def stop(self) -> None:
        """Disconnect and stop every node (the whole cluster goes)."""
        if ray.is_initialized():
            ray.shutdown()
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None
            self.worker = None

    def restart(self) -> None:
        """Stop the whole cluster, then start a new one (nothing of the old survives)."""
        self.stop()
        self.start()
