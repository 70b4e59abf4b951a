"""The workflow spec as JSON: round trips, and what the loader rejects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine.dag.spec import SCHEMA_VERSION, WorkflowSpec
from engine.dag.validate import load_workflow
from engine.errors import SpecError
from tests.fixtures import basic_wfs

ROUND_TRIP = [
    basic_wfs.chain,
    basic_wfs.fan_in_1000,
    basic_wfs.mixed_list,
    basic_wfs.mixed_dict,
    basic_wfs.unsorted_inputs,
    basic_wfs.shapes,
    basic_wfs.divmod_wf,
    basic_wfs.stats_wf,
]


@pytest.mark.parametrize("wf", ROUND_TRIP, ids=lambda wf: wf.name.rsplit(".", 1)[-1])
def test_json_round_trip_gives_an_equal_spec(wf: Any) -> None:
    spec = wf.compile().spec

    loaded = load_workflow(spec.to_json())

    assert loaded.nodes == spec.nodes
    assert loaded.outputs == spec.outputs
    assert loaded == spec


@pytest.mark.parametrize("wf", ROUND_TRIP, ids=lambda wf: wf.name.rsplit(".", 1)[-1])
def test_json_text_is_a_fixed_point(wf: Any) -> None:
    text = wf.compile().spec.to_json()

    assert load_workflow(text).to_json() == text


def test_spec_json_is_plain_json_with_a_schema_version() -> None:
    data = json.loads(basic_wfs.chain.compile().spec.to_json())

    assert data["schema_version"] == SCHEMA_VERSION
    assert data["id"]["name"] == "tests.fixtures.basic_wfs.chain"
    assert data["id"]["version"]  # compiled specs are versioned
    assert set(data["tasks"]) == {"tests.fixtures.basic_wfs.add"}


def test_version_depends_on_the_content() -> None:
    a = basic_wfs.mixed_list.compile().spec
    b = basic_wfs.mixed_dict.compile().spec

    assert a.id.version != b.id.version
    assert WorkflowSpec.from_dict(json.loads(a.to_json())).id.version == a.id.version


# --- what load_workflow rejects ----------------------------------------------------------
#
# Built from the chain workflow: n0 = add(a=<input n>, b=0), n1 = add(a=n0, b=1),
# n2 = add(a=n1, b=2), output o0 = n2.o0.


def chain_data() -> dict[str, Any]:
    data = json.loads(basic_wfs.chain.compile().spec.to_json())
    assert [n["id"] for n in data["nodes"]] == ["n0", "n1", "n2"]
    return copy.deepcopy(data)


def rejected(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        load_workflow(json.dumps(data))
    return str(info.value)


def test_the_unchanged_chain_loads() -> None:
    assert load_workflow(json.dumps(chain_data())) == basic_wfs.chain.compile().spec


def test_rejects_a_reference_to_an_unknown_node() -> None:
    data = chain_data()
    data["nodes"][1]["inputs"]["a"] = {"ref": {"node_id": "n7", "var": "o0"}}

    msg = rejected(data)

    assert "input 'a' of node 'n1'" in msg
    assert "unknown node 'n7'" in msg


def test_rejects_a_reference_to_an_unknown_output() -> None:
    data = chain_data()
    data["nodes"][1]["inputs"]["a"] = {"ref": {"node_id": "n0", "var": "o9"}}

    msg = rejected(data)

    assert "output 'o9' of node 'n0'" in msg


def test_rejects_a_dangling_workflow_output() -> None:
    data = chain_data()
    data["outputs"]["o0"] = {"ref": {"node_id": "n3", "var": "o0"}}

    assert "unknown node 'n3'" in rejected(data)


def test_rejects_a_cycle() -> None:
    data = chain_data()
    data["nodes"][0]["inputs"]["a"] = {"ref": {"node_id": "n2", "var": "o0"}}

    msg = rejected(data)

    assert "cycle" in msg
    assert all(n in msg for n in ("n0", "n1", "n2"))


def test_rejects_a_node_waiting_for_itself() -> None:
    data = chain_data()
    data["nodes"][1]["extra_upstream"] = ["n1"]

    assert "cycle" in rejected(data)


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "1", None])
def test_rejects_another_schema_version(version: Any) -> None:
    data = chain_data()
    data["schema_version"] = version

    msg = rejected(data)

    assert f"schema_version {version!r}" in msg
    assert "recompile" in msg


def test_rejects_a_missing_schema_version() -> None:
    data = chain_data()
    del data["schema_version"]

    assert "schema_version" in rejected(data)


def test_rejects_a_constant_of_the_wrong_type() -> None:
    data = chain_data()
    data["nodes"][0]["inputs"]["b"] = {"const": "x"}

    msg = rejected(data)

    assert "input 'b' of node 'n0'" in msg
    assert 'expected int, got the constant "x"' in msg


def test_rejects_a_bool_constant_for_an_int_input() -> None:
    data = chain_data()
    data["nodes"][0]["inputs"]["b"] = {"const": True}

    assert "expected int" in rejected(data)


def test_rejects_a_reference_of_the_wrong_type() -> None:
    data = chain_data()
    # Declare the workflow output a str, while it is bound to an int output.
    data["interface"]["outputs"][0]["type"] = {"kind": "simple", "simple": "string"}

    msg = rejected(data)

    assert "workflow output 'o0'" in msg
    assert "expected str, got int from output 'o0' of node 'n2'" in msg


def test_rejects_a_list_binding_for_a_scalar_input() -> None:
    data = chain_data()
    data["nodes"][0]["inputs"]["b"] = {"list": [{"const": 1}]}

    msg = rejected(data)

    assert "input 'b' of node 'n0'" in msg
    assert "got a list" in msg


def test_rejects_an_unknown_binding_kind() -> None:
    data = chain_data()
    data["nodes"][0]["inputs"]["b"] = {"literal": 1}

    assert "unknown binding" in rejected(data)


def test_rejects_an_unknown_task() -> None:
    data = chain_data()
    data["nodes"][1]["task"] = "no.such.task"

    msg = rejected(data)

    assert "node 'n1'" in msg
    assert "'no.such.task'" in msg


def test_rejects_an_unbound_required_input() -> None:
    data = chain_data()
    del data["nodes"][2]["inputs"]["b"]

    assert "node 'n2' leaves input 'b' unbound" in rejected(data)


def test_rejects_a_binding_of_an_unknown_input() -> None:
    data = chain_data()
    data["nodes"][2]["inputs"]["c"] = {"const": 1}

    assert "unknown input 'c' of node 'n2'" in rejected(data)


def test_rejects_a_duplicate_node_id() -> None:
    data = chain_data()
    data["nodes"][2]["id"] = "n1"

    assert "node id 'n1' is used twice" in rejected(data)


def test_rejects_malformed_structure() -> None:
    data = chain_data()
    del data["nodes"][0]["task"]

    assert "malformed workflow spec" in rejected(data)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_rejects_text_that_is_not_a_json_object(text: str) -> None:
    with pytest.raises(SpecError):
        load_workflow(text)
