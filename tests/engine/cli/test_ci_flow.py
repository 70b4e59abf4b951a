"""Issue 19's CI flow, end to end: ``flyray package`` where the source is, then in another
process that cannot import it, ``flyray register files`` with a raw-output prefix; an
execution of the registered launch plan runs on Ray, writes its raw outputs under the
prefix, and its labels filter it. The admin API is served over HTTP (uvicorn)."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.admin_client import AdminClient
from engine.config import Settings
from serve.control.launcher import RayLauncher
from tests.engine.cli.conftest import AdminServer, start_admin
from tests.engine.cli.test_package import DOMAIN, PROJECT, run_flyray
from tests.serve.conftest import FAST, launcher  # noqa: F401  (the Ray launcher fixture)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "raw_output_wfs.py"


def call(server: AdminServer, path: str, body: dict[str, Any] | None = None) -> Any:
    admin = AdminClient(server.endpoint)
    if body is not None:
        return admin.post(f"/api/v1/{path}", body).body
    return admin.get(f"/api/v1/{path}")


def _uris(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _uris(v)]
    if isinstance(value, list):
        return [u for v in value for u in _uris(v)]
    return [value] if isinstance(value, str) and "://" in value else []


@pytest.mark.timeout(300)
def test_build_once_register_elsewhere_run_under_the_prefix(
        tmp_path: Path, launcher: RayLauncher) -> None:  # noqa: F811
    name = f"ci_flow_{uuid.uuid4().hex[:8]}"
    source = tmp_path / "src" / name
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "wfs.py").write_text(
        FIXTURE.read_text() + "\n\nfrom engine import LaunchPlan\n\n"
        "nightly = LaunchPlan.get_or_create(reports, name=f'{__name__}.nightly')\n")
    prefix = f"{Settings(home=tmp_path / 'server').blob_root_uri.rstrip('/')}/raw-ci"
    with start_admin(tmp_path, launcher=launcher, liveness=FAST) as server:
        built = []
        for attempt in ("a", "b"):  # the same code twice: the same bytes
            out = tmp_path / "dist" / f"{attempt}.tar.gz"
            done = run_flyray(server, "package", str(source), "-o", str(out))
            assert done.returncode == 0, done.stdout + done.stderr
            built.append(out.read_bytes())
        assert built[0] == built[1]
        shutil.rmtree(tmp_path / "src")  # the CI machine that registers has no source
        registrar = tmp_path / "registrar"
        registrar.mkdir()
        done = run_flyray(server, "register", "files", str(tmp_path / "dist" / "a.tar.gz"),
                          "-p", PROJECT, "-d", DOMAIN, "--version", "ci1",
                          "--output-location-prefix", prefix, cwd=registrar, blocked=name)
        assert done.returncode == 0, done.stdout + done.stderr

        created = call(server, "executions", {
            "project": PROJECT, "domain": DOMAIN,
            "launch_plan": {"name": f"{name}.wfs.nightly", "version": "ci1"},
            "inputs": {"text": "ab", "n": 3}, "labels": {"team": "ml"}})
        execution = created["id"]["name"]
        assert created["spec"]["raw_output_data_config"] == {"output_location_prefix": prefix}
        where = f"{PROJECT}/{DOMAIN}/{execution}"
        deadline = time.monotonic() + 180
        while (phase := call(server, f"executions/{where}")["closure"]["phase"]) in (
                "QUEUED", "RUNNING"):
            assert time.monotonic() < deadline, f"execution {execution} still {phase}"
            time.sleep(0.2)
        assert phase == "SUCCEEDED"
        found = _uris(call(server, f"data/executions/{where}")["outputs"])
        assert len(found) >= 3, found  # the file, the dataframe, the offloaded text
        assert all(uri.startswith(f"{prefix}/{PROJECT}/{DOMAIN}/{execution}/")
                   for uri in found), found

        listing = f"executions/{PROJECT}/{DOMAIN}?label="
        assert [e["id"]["name"] for e in call(server, listing + "team:ml")["executions"]] \
            == [execution]
        assert call(server, listing + "team:other")["executions"] == []
