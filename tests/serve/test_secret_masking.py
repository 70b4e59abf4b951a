"""A secret a task read never shows in its failure: not in the attempt's, node's or
execution's error, the admin database, the API's answers, the console, the notification
or the task's log. The worker masks the error where the value is known (RELIABILITY.md
P4); outputs a task returns are user data and are not masked.

The task lives here, not in tests.fixtures: Ray workers import it by module name, as
they do the fixtures' tasks.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine import Secret, current_context, task, workflow
from engine.config import load_settings
from engine.dag.run.executor import run
from engine.errors import NodeFailedError
from engine.testing import provide_secrets
from tests.serve.remote import launch_workflow, path, wait_for
from tests.serve.specs import DOMAIN, PROJECT

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.timeout(120)]

GROUP, KEY = "h8-masking", "token"


@task(secret_requests=[Secret(group=GROUP, key=KEY)])
def reveals() -> int:
    value = current_context().secrets.get(GROUP, KEY)
    settings = {"token": value}  # a local the traceback's repr could show
    raise RuntimeError(f"cannot connect with token {value} (settings {settings!r})")


@workflow
def reveals_wf() -> int:
    return reveals()


@pytest.fixture
def secret() -> Iterator[str]:
    """A fresh value of the secret, in the secrets directory every worker reads (the
    shared cluster's workers have this process's FLYRAY_HOME)."""
    value = f"s3cr3t-{uuid.uuid4().hex}"
    group = load_settings().secrets_path / GROUP
    group.mkdir(parents=True, exist_ok=True)
    (group / KEY).write_text(value)
    try:
        yield value
    finally:
        shutil.rmtree(group, ignore_errors=True)


def _answers(client: TestClient, name: str) -> dict[str, str]:
    """Every API answer and console page about the failed execution, by path."""
    ex, page = path(name), f"/projects/{PROJECT}/domains/{DOMAIN}/executions/{name}"
    paths = [f"/api/v1/executions/{ex}", f"/api/v1/executions/{PROJECT}/{DOMAIN}",
             f"/api/v1/node_executions/{ex}", f"/api/v1/node_executions/{ex}/n0",
             f"/api/v1/data/executions/{ex}", f"/api/v1/data/node_executions/{ex}/n0",
             f"/api/v1/executions/{ex}/changes", f"/api/v1/executions/{ex}/notifications",
             f"/api/v1/logs/{ex}/n0", page, f"{page}/nodes/n0", f"{page}/rows",
             f"/api/executions/{PROJECT}/{DOMAIN}/{name}/timeline"]
    answers = {}
    for p in paths:
        response = client.get(p)
        assert response.status_code < 500, (p, response.text)
        answers[p] = response.text
    return answers


def test_a_remote_executions_error_masks_the_secret(remote_sqlite: TestClient,
                                                   secret: str, tmp_path: Path) -> None:
    execution = launch_workflow(remote_sqlite, reveals_wf)
    name = execution["id"]["name"]
    failed = wait_for(remote_sqlite, name, ("FAILED",))
    assert "cannot connect with token ****" in failed["closure"]["error"]["message"]
    answers = _answers(remote_sqlite, name)
    assert "cannot connect with token ****" in answers[f"/api/v1/logs/{path(name)}/n0"]
    for where, text in answers.items():
        assert secret not in text, where
    files = [p for p in tmp_path.iterdir() if p.name.startswith("admin.db")]
    assert files
    for file in files:  # the database file, and its write-ahead log if any
        assert secret.encode() not in file.read_bytes(), file


def test_a_local_runs_error_masks_the_secret() -> None:
    value = f"s3cr3t-{uuid.uuid4().hex}"
    with provide_secrets({(GROUP, KEY): value}), \
            pytest.raises(NodeFailedError) as failed:
        run(reveals_wf.compile(), {})
    assert "cannot connect with token ****" in str(failed.value)
    assert value not in str(failed.value)
