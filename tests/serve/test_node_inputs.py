"""Node inputs of remote executions, composed from the stored forms of workflow inputs,
constants and upstream outputs (no Ray: the driver's hooks call this)."""

from __future__ import annotations

from pathlib import Path

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.literals import load_json, store_value
from engine.dag.run.state import NodeRecord
from serve.driver.node_inputs import NodeInputs
from tests.fixtures import promise_path_wfs, remote_wfs

THRESHOLD = 16  # bytes of JSON: longer values are written to the blob store


def blob_store(tmp_path: Path) -> tuple[BlobStore, str]:
    store = BlobStore(StorageConfig(f"file://{tmp_path}/blobs"))
    return store, store.uri("executions", "p", "d", "e")


def test_inputs_are_the_stored_forms_of_what_they_are_bound_to(tmp_path: Path) -> None:
    # fan_in: n0 = repeat(text, times); n1 = length(n0); n2 = longest([n0, text]);
    # n3 = total([n1, n2, 1]).
    store, prefix = blob_store(tmp_path)
    spec = remote_wfs.fan_in.compile().spec
    inputs = NodeInputs(spec, {"text": "ab", "times": 20}, store, prefix, THRESHOLD)
    assert inputs.of("n0", {}) == {"text": {"inline": "ab"}, "times": {"inline": 20}}
    assert inputs.of("n1", {}) is None  # n0's outputs are not stored yet
    big = store_value("ab" * 20, str, store, f"{prefix}/nodes/n0", THRESHOLD)
    assert set(big) == {"uri", "format"}
    inputs.add_outputs("n0", {"o0": big})
    assert inputs.of("n1", {}) == {"text": big}  # the same blob: nothing is copied
    # A list with a large part is written once, whole, under the node's own prefix.
    texts = (inputs.of("n2", {}) or {})["texts"]
    assert texts["uri"].startswith(f"{prefix}/nodes/n2/inputs/")
    assert load_json(texts, store) == ["ab" * 20, "ab"]
    inputs.add_outputs("n1", {"o0": {"inline": 40}})
    inputs.add_outputs("n2", {"o0": {"inline": 40}})
    assert inputs.of("n3", {}) == {"xs": {"inline": [40, 40, 1]}}


def test_a_large_workflow_input_is_written_once(tmp_path: Path) -> None:
    store, prefix = blob_store(tmp_path)
    spec = remote_wfs.fan_in.compile().spec
    inputs = NodeInputs(spec, {"text": "x" * 100, "times": 2}, store, prefix, THRESHOLD)
    first = (inputs.of("n0", {}) or {})["text"]
    assert first["uri"].startswith(f"{prefix}/inputs/")
    assert load_json(first, store) == "x" * 100
    assert (inputs.of("n0", {}) or {})["text"] == first
    assert len(list((tmp_path / "blobs").rglob("*.json"))) == 1


def test_inputs_from_a_conditional_are_its_taken_arms_outputs(tmp_path: Path) -> None:
    # branchy: n0 = a; n1 = sign (n0 > 0) ? n2 (pos) : n3 (neg); n4 = b(n1).
    store, prefix = blob_store(tmp_path)
    spec = remote_wfs.branchy.compile().spec
    inputs = NodeInputs(spec, {"marker_dir": "/m", "x": 1}, store, prefix, THRESHOLD)
    records = {n.id: NodeRecord(n.id, n.task) for n in spec.nodes}
    inputs.add_outputs("n0", {"o0": {"inline": 2}})
    inputs.add_outputs("n2", {"o0": {"inline": 3}})
    assert inputs.of("n4", records) is None  # the conditional has not decided yet
    records["n1"].arm = 0
    assert inputs.of("n4", records) == {
        "marker_dir": {"inline": "/m"}, "label": {"inline": "b"}, "x": {"inline": 3}}
    assert inputs.of("n1", records) is None  # a conditional has no inputs of its own


def test_an_input_bound_to_a_part_is_that_part_alone(tmp_path: Path) -> None:
    # key_then_index: n0 = make_dict(); n1 = double(x=n0["b"][2]).
    store, prefix = blob_store(tmp_path)
    spec = promise_path_wfs.key_then_index.compile().spec
    inputs = NodeInputs(spec, {}, store, prefix, THRESHOLD)
    whole = store_value({"a": [1, 2], "b": [3, 4, 5]}, dict[str, list[int]], store,
                        f"{prefix}/nodes/n0", THRESHOLD)
    assert set(whole) == {"uri", "format"}  # offloaded: the part is read back from it
    inputs.add_outputs("n0", {"o0": whole})
    assert inputs.of("n1", {}) == {"x": {"inline": 5}}
