"""Listings: paging with opaque tokens, sorting, filtering by name. Over both backends."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import basic_wfs
from tests.serve.specs import error_of, task_body

TASKS = [basic_wfs.add, basic_wfs.noop, basic_wfs.total, basic_wfs.sum_values,
         basic_wfs.keys_of, basic_wfs.to_str, basic_wfs.pid]
LIST = "/api/v1/tasks/flytesnacks/development"


@pytest.fixture
def registered(client: TestClient) -> list[str]:
    """Seven tasks registered one after the other; their names in registration order."""
    names = []
    for task in TASKS:
        body = task_body(task)
        client.post("/api/v1/tasks", json=body).raise_for_status()
        names.append(body["id"]["name"])
    return names


def versions_of_add(client: TestClient, versions: list[str]) -> None:
    for version in versions:
        body = copy.deepcopy(task_body(basic_wfs.add))
        body["id"]["version"] = body["spec"]["id"]["version"] = version
        client.post("/api/v1/tasks", json=body).raise_for_status()


def all_pages(client: TestClient, path: str, field: str, **params: Any) -> list[list[Any]]:
    pages, token = [], ""
    while True:
        response = client.get(path, params={**params, "token": token})
        assert response.status_code == 200, response.text
        pages.append(response.json()[field])
        token = response.json()["token"]
        if not token:
            return pages


def test_default_order_is_newest_first(client: TestClient, registered: list[str]) -> None:
    tasks = client.get(LIST).json()["tasks"]
    assert [t["id"]["name"] for t in tasks] == registered[::-1]


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_pages_cover_everything_once_in_order(client: TestClient, registered: list[str],
                                              direction: str) -> None:
    pages = all_pages(client, LIST, "tasks", limit=3, **{"sort_by.key": "name",
                                                         "sort_by.direction": direction})
    assert [len(p) for p in pages] == [3, 3, 1]
    names = [t["id"]["name"] for page in pages for t in page]
    assert names == sorted(registered, reverse=direction == "DESCENDING")


def test_paging_by_creation_time(client: TestClient, registered: list[str]) -> None:
    pages = all_pages(client, LIST, "tasks", limit=2,
                      **{"sort_by.key": "created_at", "sort_by.direction": "ASCENDING"})
    assert [t["id"]["name"] for page in pages for t in page] == registered


def test_registering_between_pages_neither_repeats_nor_skips(
        client: TestClient, registered: list[str]) -> None:
    order = {"sort_by.key": "name", "sort_by.direction": "ASCENDING", "limit": 3}
    first = client.get(LIST, params=order).json()
    newcomer = task_body(basic_wfs.zeta_alpha)  # sorts after every other name
    client.post("/api/v1/tasks", json=newcomer).raise_for_status()
    seen = [t["id"]["name"] for t in first["tasks"]]
    token = first["token"]
    while token:
        page = client.get(LIST, params={**order, "token": token}).json()
        seen += [t["id"]["name"] for t in page["tasks"]]
        token = page["token"]
    assert seen == sorted([*registered, newcomer["id"]["name"]])


def test_filter_by_exact_name_and_by_part_of_it(client: TestClient,
                                                registered: list[str]) -> None:
    exact = client.get(LIST, params={"name": "tests.fixtures.basic_wfs.noop"}).json()["tasks"]
    assert [t["id"]["name"] for t in exact] == ["tests.fixtures.basic_wfs.noop"]
    part = client.get(LIST, params={"name_contains": "_v", "sort_by.key": "name",
                                    "sort_by.direction": "ASCENDING"}).json()["tasks"]
    assert [t["id"]["name"] for t in part] == ["tests.fixtures.basic_wfs.sum_values"]
    # LIKE wildcards in the text are matched literally.
    assert client.get(LIST, params={"name_contains": "%"}).json()["tasks"] == []


def test_versions_of_one_name_sorted_by_version(client: TestClient) -> None:
    versions_of_add(client, ["v2", "v1", "v3"])
    client.post("/api/v1/tasks", json=task_body(basic_wfs.noop)).raise_for_status()
    path = f"{LIST}/tests.fixtures.basic_wfs.add"
    pages = all_pages(client, path, "tasks", limit=2,
                      **{"sort_by.key": "version", "sort_by.direction": "ASCENDING"})
    assert [t["id"]["version"] for page in pages for t in page] == ["v1", "v2", "v3"]
    newest = client.get(path).json()["tasks"]
    assert [t["id"]["version"] for t in newest] == ["v3", "v1", "v2"]


def test_names_are_listed_once_each_by_name(client: TestClient, registered: list[str]) -> None:
    versions_of_add(client, ["v1", "v2"])
    pages = all_pages(client, "/api/v1/task_ids/flytesnacks/development", "entities", limit=4)
    names = [e["name"] for page in pages for e in page]
    assert names == sorted(registered)
    assert pages[0][0] == {"project": "flytesnacks", "domain": "development",
                           "name": sorted(registered)[0]}


def test_bad_paging_arguments_are_refused(client: TestClient, registered: list[str]) -> None:
    token = client.get(LIST, params={"limit": 2}).json()["token"]
    assert token
    other_order = client.get(LIST, params={"token": token, "sort_by.key": "name"})
    assert "sorted by created_at DESCENDING" in error_of(other_order, 400)["message"]
    for params in ({"token": "garbage!"}, {"token": token[:-4]}, {"limit": 0},
                   {"limit": 100_000}, {"limit": "many"}, {"sort_by.key": "size"},
                   {"sort_by.direction": "UP"}):
        error_of(client.get(LIST, params=params), 400)
    names_by_time = client.get("/api/v1/task_ids/flytesnacks/development",
                               params={"sort_by.key": "created_at"})
    assert "sort_by.key is one of ['name']" in error_of(names_by_time, 400)["message"]


def test_listing_an_unknown_project_is_not_found(client: TestClient) -> None:
    error = error_of(client.get("/api/v1/tasks/nowhere/development"), 404)
    assert "project 'nowhere' does not exist" in error["message"]
    error_of(client.get("/api/v1/workflow_ids/flytesnacks/qa"), 404)
