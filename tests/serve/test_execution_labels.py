"""Execution labels, annotations and raw-output prefixes: the launch plan's defaults
overlaid by the request's, kept by relaunches and recoveries, validated, filtered on,
returned by the API, and where a remote execution's raw outputs land. Store tests run
over SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serve.errors import ConflictError, InvalidArgumentError
from serve.store import AdminStore
from serve.store._migrations import MIGRATIONS
from serve.store.database import Database
from serve.store.execution_records import (
    ExecutionFilters,
    ExecutionRequest,
    TargetKind,
)
from tests.fixtures import raw_output_wfs, remote_wfs
from tests.serve.remote import EXECUTIONS, launch_workflow, outputs, path, wait_for
from tests.serve.specs import DOMAIN, PROJECT, error_of
from tests.serve.test_execution_store import register, request
from tests.serve.test_store_migrations import columns_and_indexes

ROOT = "s3://bucket/flyray"


def register_plan(store: AdminStore, wf: Any, **spec: Any) -> str:
    """Register launch plan 'labelled' of ``wf`` with ``spec``'s extra fields."""
    workflow = register(store, wf)
    plan = {**workflow.to_dict(), "resource_type": "launch_plan", "name": "labelled"}
    store.register_launch_plan({"id": plan, "workflow_id": workflow.to_dict(),
                                "default_inputs": {"x": 2}, **spec})
    return "labelled"


def plan_request(name: str, **fields: Any) -> ExecutionRequest:
    return ExecutionRequest(PROJECT, DOMAIN, name, TargetKind.LAUNCH_PLAN, "labelled", None,
                            **fields)


def names(store: AdminStore, *labels: tuple[str, str]) -> list[str]:
    page = store.list_executions(PROJECT, DOMAIN, ExecutionFilters(labels=labels))
    return sorted(e.id.name for e in page.items)


@pytest.fixture
def labelled(store: AdminStore) -> str:
    return register_plan(
        store, remote_wfs.square_plus_one, labels={"team": "ml", "tier": "gold"},
        annotations={"owner": "ada"},
        raw_output_data_config={"output_location_prefix": f"{ROOT}/plan"})


def test_the_plans_defaults_are_overlaid_by_the_requests(store: AdminStore,
                                                         labelled: str) -> None:
    plain = store.create_execution(plan_request("plain"), ROOT)[0]
    assert (plain.labels, plain.annotations, plain.raw_output_prefix) == (
        {"team": "ml", "tier": "gold"}, {"owner": "ada"}, f"{ROOT}/plan")
    mine = store.create_execution(plan_request(
        "mine", labels={"tier": "silver", "run": "nightly"}, annotations={"why": "a test"},
        raw_output_prefix=f"{ROOT}/mine/"), ROOT)[0]
    assert mine.labels == {"team": "ml", "tier": "silver", "run": "nightly"}
    assert mine.annotations == {"owner": "ada", "why": "a test"}
    assert mine.raw_output_prefix == f"{ROOT}/mine"
    # A repeat of the named request is the same execution; another request is refused.
    assert store.create_execution(plan_request(
        "mine", labels={"tier": "silver", "run": "nightly"}, annotations={"why": "a test"},
        raw_output_prefix=f"{ROOT}/mine/"), ROOT)[0] == mine
    with pytest.raises(ConflictError) as conflict:
        store.create_execution(plan_request("mine", labels={"tier": "bronze"}), ROOT)
    assert "labels.tier" in conflict.value.paths
    # A workflow launched alone runs its default launch plan: only the request's.
    wf = register(store, remote_wfs.square_plus_one)
    alone = store.create_execution(dataclasses.replace(
        request(wf, "alone", x=1), labels={"team": "web"}), ROOT)[0]
    assert (alone.labels, alone.annotations, alone.raw_output_prefix) == (
        {"team": "web"}, {}, None)


def test_relaunch_and_recover_keep_them(store: AdminStore, labelled: str) -> None:
    first = store.create_execution(plan_request("first", labels={"run": "a"}), ROOT)[0]
    store.terminate_execution(first.id, "stop")
    store.force_abort(first.id)  # no driver runs here to confirm the stop
    relaunched = store.relaunch_execution(first.id, name="again")[0]
    recovered = store.recover_execution(first.id, name="recovered")[0]
    for copy in (relaunched, recovered):
        assert (copy.labels, copy.annotations, copy.raw_output_prefix) == (
            first.labels, first.annotations, first.raw_output_prefix)
    assert names(store, ("run", "a")) == ["again", "first", "recovered"]


def test_listing_filters_on_every_label_given(store: AdminStore, labelled: str) -> None:
    store.create_execution(plan_request("a", labels={"run": "nightly"}), ROOT)
    store.create_execution(plan_request("b", labels={"tier": "silver"}), ROOT)
    store.create_execution(plan_request("c", labels={"example.com/empty": ""}), ROOT)
    assert names(store, ("team", "ml")) == ["a", "b", "c"]
    assert names(store, ("team", "ml"), ("tier", "gold")) == ["a", "c"]
    assert names(store, ("run", "nightly"), ("tier", "silver")) == []
    assert names(store, ("example.com/empty", "")) == ["c"]
    assert names(store, ("team", "web")) == []
    with pytest.raises(InvalidArgumentError, match="'bad key' is no label key"):
        names(store, ("bad key", "x"))


@pytest.mark.parametrize(("fields", "message"), [
    ({"labels": {"team": "two words"}}, "label 'team' has an invalid value 'two words'"),
    ({"labels": {"x" * 64: "a"}}, "at most 63 characters"),
    ({"labels": {"UPPER.example.com/team": "a"}}, "invalid prefix 'UPPER.example.com'"),
    ({"annotations": {"note": "x" * 262_144}}, "256 KiB"),
    ({"raw_output_prefix": "s3://other-bucket/raw"},
     "raw output prefix 's3://other-bucket/raw' must lie inside the blob store "
     "s3://bucket/flyray"),
    ({"raw_output_prefix": f"{ROOT}/../escape"}, "must lie inside the blob store"),
    ({"raw_output_prefix": "relative/raw"}, "must be a URI"),
])
def test_invalid_values_are_refused_saying_why(store: AdminStore, labelled: str,
                                               fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        store.create_execution(plan_request("bad", **fields), ROOT)
    assert names(store) == []


def test_a_plans_prefix_outside_the_blob_store_is_refused_at_launch(
        store: AdminStore) -> None:
    register_plan(store, remote_wfs.square_plus_one,
                  raw_output_data_config={"output_location_prefix": "s3://elsewhere/raw"})
    with pytest.raises(InvalidArgumentError, match="launch of .*labelled.*inside the blob"):
        store.create_execution(plan_request("x"), ROOT)


def test_the_api_returns_them_and_filters_on_labels(store: AdminStore, labelled: str,
                                                     client: TestClient) -> None:
    store.create_execution(plan_request("a", labels={"run": "nightly"}), ROOT)
    store.create_execution(plan_request("b"), ROOT)
    spec = client.get(f"{EXECUTIONS}/{path('a')}").json()["spec"]
    assert spec["labels"] == {"team": "ml", "tier": "gold", "run": "nightly"}
    assert spec["annotations"] == {"owner": "ada"}
    assert spec["raw_output_data_config"] == {"output_location_prefix": f"{ROOT}/plan"}

    def listed(*filters: str) -> list[str]:
        query = "&".join(f"label={f}" for f in filters)
        response = client.get(f"{EXECUTIONS}/{PROJECT}/{DOMAIN}?{query}")
        assert response.status_code == 200, response.text
        return sorted(e["id"]["name"] for e in response.json()["executions"])

    assert listed("team:ml") == ["a", "b"]
    assert listed("team:ml", "run:nightly") == ["a"]
    assert listed("run:weekly") == []
    error = error_of(client.get(f"{EXECUTIONS}/{PROJECT}/{DOMAIN}?label=team"), 400)
    assert "query.label" in error["message"]  # key:value, as the OpenAPI document says


def test_a_database_from_before_labels_gets_them(admin_url: str) -> None:
    store = AdminStore(admin_url)
    try:
        wf = register(store, remote_wfs.square_plus_one)
        old = store.create_execution(request(wf, "old", x=1))[0].id
    finally:
        store.close()
    # Back to version 5: what migration 6 adds taken away again.
    database = Database(admin_url)
    try:
        with database.session(write=True) as s:
            s.execute(text("DROP TABLE admin_execution_labels"))
            for column in ("labels", "annotations", "raw_output_prefix"):
                s.execute(text(f"ALTER TABLE admin_executions DROP COLUMN {column}"))
            s.execute(text("UPDATE admin_schema_version SET version = 5"))
    finally:
        database.close()
    assert "labels" not in columns_and_indexes(admin_url, "admin_executions")
    store = AdminStore(admin_url)
    try:
        assert store.schema_version == MIGRATIONS[-1][0] >= 6
        before = store.get_execution(old)
        assert (before.labels, before.annotations, before.raw_output_prefix) == ({}, {}, None)
        new = store.create_execution(dataclasses.replace(
            request(wf, "new", x=1), labels={"team": "ml"}))[0]
        assert new.labels == {"team": "ml"}
        assert names(store, ("team", "ml")) == ["new"]
        assert store.relaunch_execution(old, name="old-again")[0].labels == {}
    finally:
        store.close()


def _uris(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _uris(v)]
    if isinstance(value, list):
        return [u for v in value for u in _uris(v)]
    return [value] if isinstance(value, str) and "://" in value else []


def test_a_remote_executions_raw_outputs_land_under_its_prefix(
        remote_sqlite: TestClient, tmp_path: Path) -> None:
    prefix = f"file://{tmp_path}/blobs/raw-data"
    created = launch_workflow(
        remote_sqlite, raw_output_wfs.reports, inputs={"text": "ab", "n": 3},
        labels={"team": "ml"}, raw_output_data_config={"output_location_prefix": prefix})
    name = created["id"]["name"]
    assert created["spec"]["raw_output_data_config"] == {"output_location_prefix": prefix}
    wait_for(remote_sqlite, name, timeout_s=120)
    found = _uris(outputs(remote_sqlite, name))
    base = f"{prefix}/{PROJECT}/{DOMAIN}/{name}/"
    assert len(found) >= 3, found  # the file, the dataframe, the offloaded text
    assert all(uri.startswith(base) for uri in found), found
    written = sorted(p.relative_to(tmp_path / "blobs" / "raw-data")
                     for p in (tmp_path / "blobs" / "raw-data").rglob("*") if p.is_file())
    assert any(p.name == "report.txt" for p in written), written
    assert any(p.suffix == ".parquet" for p in written), written
    [offloaded] = [u for u in found if u.endswith(".json")]
    assert json.loads(Path(offloaded.removeprefix("file://")).read_text()) == "ab" * 600_000
    assert any(f"{name}/raw/" in uri for uri in found), found  # the node's own upload
