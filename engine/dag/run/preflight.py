"""What an execution does before its first node is submitted: fail early on what can
never work (a node no Ray node can run, an unusable blob store), then upload the local
files given as workflow inputs so that any node can read them."""

from __future__ import annotations

from typing import Any

from engine.catalog.blob import BlobStore, StorageConfig
from engine.dag.run import local_nodes
from engine.dag.run.cluster import cluster_nodes, infeasibility, ray_request
from engine.dag.run.run_graph import RunGraph
from engine.errors import ResourceRequestError, StorageError
from engine.types.literal import holds_blob
from engine.types.type_engine import DataContext, TypeEngine


def check_feasible(graph: RunGraph) -> None:
    """Raise :class:`ResourceRequestError` for the first node that asks for resources no
    Ray node has."""
    nodes = cluster_nodes()
    for node in graph.spec.nodes:
        if node.branch is not None or node.gate is not None \
                or local_nodes.stand_in(graph.compiled.tasks[node.task]):
            continue  # a conditional, a gate, or a task a test mocked: nothing goes to Ray
        reason = infeasibility(ray_request(graph.metadata(node.id)), nodes)
        if reason:
            raise ResourceRequestError(
                f"workflow '{graph.name}': node '{node.id}' (task '{node.task}') can never "
                f"run: {reason}; lower the task's requests or add a node that has them"
            )


def check_store(graph: RunGraph, storage: StorageConfig) -> None:
    """Raise :class:`StorageError` when a node writes files and the blob store is not
    usable."""
    writers = [
        (node.id, v.name)
        for node in graph.spec.nodes if node.branch is None and node.gate is None
        for v in graph.spec.tasks[node.task].interface.outputs
        if holds_blob(v.type)
    ]
    if not writers:
        return
    try:
        BlobStore(storage).check()
    except StorageError as e:
        node_id, output = writers[0]
        raise StorageError(
            f"workflow '{graph.name}': node '{node_id}' writes output '{output}' "
            f"to the blob store, which is not usable: {e}"
        ) from e


def upload_inputs(graph: RunGraph, inputs: dict[str, Any], storage: StorageConfig,
                  execution: str) -> dict[str, Any]:
    """``inputs`` with local files uploaded under the raw data of ``execution``."""
    iface = graph.compiled.python_interface
    store = BlobStore(storage)
    ctx = DataContext(store, store.uri("raw", execution, "inputs"))
    return {
        name: TypeEngine.from_task_output(
            value, iface.inputs[name], ctx, f"workflow '{graph.name}', input '{name}'")
        for name, value in inputs.items()
    }
