"""The inputs of a remote execution's nodes, as stored forms (``engine.catalog.literals``).

Composed from what the driver stores anyway, never from the values themselves, so that
recording them fetches and encodes nothing: an input bound to an upstream node's output
is that output's stored form (offloaded ones name the same blob); one bound to a
conditional's output is the output of the arm the conditional took; a workflow input or
a constant is its JSON literal, offloaded once when large. Only a list or map of
bindings with an offloaded part reads that part back, to write the whole once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine.catalog.blob import BlobStore
from engine.catalog.literals import load_json, store_json
from engine.dag.run.state import NodeRecord
from engine.dag.spec import (
    APPROVE_INPUT,
    START_NODE,
    Binding,
    BindingList,
    BindingMap,
    Constant,
    GateKind,
    Node,
    OutputRef,
    WorkflowSpec,
    follow,
)
from engine.errors import DataError


class _NotYet(Exception):
    """An input's value is not stored yet (its node has not succeeded, or its
    conditional not decided)."""


class NodeInputs:
    """Stored forms of the inputs of one execution's nodes.

    Args:
        inputs: the execution's inputs (input name -> JSON literal).
        prefix: blob store URI under which this execution's offloaded values go.
    """

    def __init__(self, spec: WorkflowSpec, inputs: Mapping[str, Any], blobs: BlobStore,
                 prefix: str, threshold: int) -> None:
        handler = (spec.on_failure,) if spec.on_failure is not None else ()
        self.nodes = {n.id: n for n in (*spec.nodes, *handler)}
        self.inputs = inputs
        self.blobs = blobs
        self.prefix = prefix
        self.threshold = threshold
        # Stored outputs of nodes that succeeded or were recovered: node -> name -> form.
        self.outputs: dict[str, dict[str, Any]] = {}
        self._workflow_inputs: dict[str, dict[str, Any]] = {}  # each offloaded once

    def add_outputs(self, node_id: str, forms: dict[str, Any]) -> None:
        self.outputs[node_id] = forms

    def of(self, node_id: str, records: Mapping[str, NodeRecord]) -> dict[str, Any] | None:
        """The node's inputs (input name -> stored form); None while one is not stored
        yet, for a conditional (whose inputs are its arms'), and for a node the spec does
        not have."""
        node = self.nodes.get(node_id)
        if node is None or node.branch is not None:
            return None
        try:
            return {name: self._form(node, b, records) for name, b in node.inputs}
        except _NotYet:
            return None

    def _form(self, node: Node, binding: Binding,
              records: Mapping[str, NodeRecord]) -> dict[str, Any]:
        if isinstance(binding, Constant):
            return self._store(binding.value, f"nodes/{node.id}/inputs")
        if isinstance(binding, OutputRef):
            return self._output(binding, records)
        if isinstance(binding, BindingList):
            parts = [self._form(node, b, records) for b in binding.items]
            return self._store([load_json(p, self.blobs) for p in parts],
                               f"nodes/{node.id}/inputs")
        assert isinstance(binding, BindingMap)
        forms = {k: self._form(node, b, records) for k, b in binding.items}
        return self._store({k: load_json(f, self.blobs) for k, f in forms.items()},
                           f"nodes/{node.id}/inputs")

    def _output(self, ref: OutputRef, records: Mapping[str, NodeRecord]) -> dict[str, Any]:
        whole = self._whole(replace(ref, path=()), records)
        if not ref.path:
            return whole
        # ``out[0]``, ``out.field``: the part alone, read from the whole and stored anew.
        try:
            part = follow(load_json(whole, self.blobs), ref.path)
        except DataError:  # never stored: the node's attempt fails on it, as the user's
            raise _NotYet(ref.node_id) from None
        return self._store(part, f"nodes/{ref.node_id}/parts/{ref.var}")

    def _whole(self, ref: OutputRef, records: Mapping[str, NodeRecord]) -> dict[str, Any]:
        if ref.node_id == START_NODE:
            if ref.var not in self._workflow_inputs:
                if ref.var not in self.inputs:
                    raise _NotYet(ref.var)
                self._workflow_inputs[ref.var] = self._store(self.inputs[ref.var], "inputs")
            return self._workflow_inputs[ref.var]
        gate = self.nodes[ref.node_id].gate
        if gate is not None and gate.kind is GateKind.APPROVE:  # passes its upstream value
            upstream = dict(self.nodes[ref.node_id].inputs)[APPROVE_INPUT]
            assert isinstance(upstream, OutputRef)  # the gate's validation
            return self._output(upstream, records)
        branch = self.nodes[ref.node_id].branch
        if branch is None:
            try:
                form: dict[str, Any] = self.outputs[ref.node_id][ref.var]
            except KeyError:
                raise _NotYet(ref.node_id) from None
            return form
        arm = records[ref.node_id].arm
        sources = dict(branch.cases[arm].outputs) if arm is not None else {}
        source = sources.get(ref.var)
        if not isinstance(source, OutputRef):
            raise _NotYet(ref.node_id)
        return self._output(source, records)

    def _store(self, data: Any, where: str) -> dict[str, Any]:
        return store_json(data, self.blobs, f"{self.prefix}/{where}", self.threshold)
