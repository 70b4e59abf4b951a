"""Launch plan labels, annotations and raw-output prefix: JSON form, validation, SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine import Annotations, Labels, LaunchPlan, RawOutputDataConfig
from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType
from engine.dag.spec.labels import check_annotations, check_labels, parse_pairs
from engine.dag.spec.launch_plan import with_registration_defaults
from engine.errors import ConfigError, SpecError
from tests.fixtures import launch_plan_wfs as wfs

WF = Identifier(ResourceType.WORKFLOW, "p", "d", "wf", "v1")
LP = Identifier(ResourceType.LAUNCH_PLAN, "p", "d", "lp", "v1")
# The JSON of a launch plan from before labels existed: it must not change by one byte,
# or every registered version hash would.
OLD_JSON = (
    '{"id": {"resource_type": "launch_plan", "project": "p", "domain": "d", "name": "lp", '
    '"version": "v1"}, "workflow_id": {"resource_type": "workflow", "project": "p", '
    '"domain": "d", "name": "wf", "version": "v1"}, "default_inputs": {"n": 1}, '
    '"fixed_inputs": {}, "schedule": null, "max_parallel_executions": 2}'
)


def test_a_plan_without_them_keeps_its_json_byte_for_byte() -> None:
    spec = LaunchPlanSpec(LP, WF, {"n": 1}, {}, None, 2)
    assert json.dumps(spec.to_dict()) == OLD_JSON
    assert LaunchPlanSpec.from_dict(json.loads(OLD_JSON)) == spec


def test_they_round_trip_in_flytes_json_form() -> None:
    spec = LaunchPlanSpec(LP, WF, raw_output_prefix="s3://bucket/raw",
                          labels={"team": "ml", "example.com/tier": ""},
                          annotations={"owner": "ada@example.com, long text"})
    data = spec.to_dict()
    assert data["raw_output_data_config"] == {"output_location_prefix": "s3://bucket/raw"}
    assert data["labels"] == {"team": "ml", "example.com/tier": ""}
    assert data["annotations"] == {"owner": "ada@example.com, long text"}
    assert LaunchPlanSpec.from_dict(json.loads(json.dumps(data))) == spec


@pytest.mark.parametrize(("field", "value", "message"), [
    ("labels", {"team": "ML team"}, r"label 'team' has an invalid value 'ML team'"),
    ("labels", {"team": "x" * 64}, "at most 63 characters"),
    ("labels", {"-team": "ml"}, r"invalid name '-team'"),
    ("labels", {"Bad_Prefix/team": "ml"}, "invalid prefix 'Bad_Prefix'"),
    ("labels", {"a/b/c": "ml"}, "invalid prefix 'a/b'"),
    ("labels", {"team": 3}, "must have a string value"),
    ("labels", ["team"], "labels must be an object"),
    ("annotations", {"": "x"}, "invalid name ''"),
    ("annotations", {"k": "x" * (256 * 1024)}, "more than the 262144"),
    ("raw_output_data_config", {"output_location_prefix": "relative/dir"}, "must be a URI"),
    ("raw_output_data_config", {"prefix": "s3://b"}, "only output_location_prefix"),
])
def test_invalid_values_are_refused_saying_why(field: str, value: Any, message: str) -> None:
    data = {**LaunchPlanSpec(LP, WF).to_dict(), field: value}
    with pytest.raises(SpecError, match=message) as info:
        LaunchPlanSpec.from_dict(data)
    assert "launch plan p/d/lp@v1" in str(info.value)


def test_kubernetes_valid_keys_and_values_pass() -> None:
    labels = {"app.kubernetes.io/name": "flyray", "a": "", "x" * 63: "y" * 63,
              "team_1.x-y": "A.b_c-9"}
    assert check_labels(labels, "here") == labels
    assert check_annotations({"note": "any text: {json} / ünïcode"}, "here")
    with pytest.raises(SpecError, match="KEY=VALUE"):
        parse_pairs(["novalue"], "label")
    assert parse_pairs(["a=b=c", "e="], "label") == {"a": "b=c", "e": ""}


def test_the_sdk_sets_them_on_the_registered_spec() -> None:
    plan = LaunchPlan.get_or_create(
        workflow=wfs.greeter, name="labelled_greeter",
        labels=Labels({"team": "ml"}), annotations={"owner": "ada"},
        raw_output_data_config=RawOutputDataConfig(output_location_prefix="s3://b/raw"))
    spec = plan.to_spec()
    assert (spec.labels, spec.annotations, spec.raw_output_prefix) == (
        {"team": "ml"}, {"owner": "ada"}, "s3://b/raw")
    again = LaunchPlan.get_or_create(workflow=wfs.greeter, name="labelled_greeter",
                                     labels={"team": "ml"},
                                     annotations=Annotations({"owner": "ada"}),
                                     raw_output_data_config="s3://b/raw")
    assert again is plan
    with pytest.raises(ConfigError, match="immutable"):
        LaunchPlan.get_or_create(workflow=wfs.greeter, name="labelled_greeter",
                                 labels={"team": "web"})
    with pytest.raises(SpecError, match="launch plan 'bad_labels'.*invalid value"):
        LaunchPlan.get_or_create(workflow=wfs.greeter, name="bad_labels",
                                 labels={"team": "not ok"})
    assert wfs.formal.to_spec().to_dict().keys() == json.loads(OLD_JSON).keys()


def test_a_registration_prefix_applies_only_to_plans_without_their_own() -> None:
    own = LaunchPlanSpec(LP, WF, raw_output_prefix="s3://b/own")
    assert with_registration_defaults(own, "s3://b/ci") == own
    plain = with_registration_defaults(LaunchPlanSpec(LP, WF), "s3://b/ci")
    assert plain.raw_output_prefix == "s3://b/ci"
    assert with_registration_defaults(plain, None) is plain
    with pytest.raises(SpecError, match="must be a URI"):
        with_registration_defaults(LaunchPlanSpec(LP, WF), "ci/raw")
