"""``flyray register`` and the commands that read the admin API, against a real admin API
served over HTTP (uvicorn on 127.0.0.1): tables, JSON, refusals, unreachable endpoints."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.admin_client import AdminClient
from engine.cli.main import cli
from engine.remote.bundle import TOP_DIRECTORY
from tests.engine.cli.conftest import AdminServer, Flyray, start_admin
from tests.serve.remote import RecordingLauncher

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "tests" / "fixtures" / "remote_pkg"
PREFIX = "tests.fixtures.remote_pkg"
PIPELINE = f"{PREFIX}.workflows.pipeline"
PROJECT, DOMAIN = "flytesnacks", "development"


def api(server: AdminServer, path: str) -> Any:
    return AdminClient(server.endpoint).get(f"/api/v1/{path}")


def rows(output: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(kind, name) -> (version, status) from the table 'flyray register' prints."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 4 and cells[0] in ("task", "workflow", "launch plan",
                                             "launch plan (default)"):
            found[(cells[0], cells[1])] = (cells[2], cells[3])
    return found


def copy_package(tmp_path: Path) -> tuple[Path, str]:
    """The fixture package copied under a fresh name into a source root of its own."""
    name = f"remote_copy_{uuid.uuid4().hex[:8]}"
    target = tmp_path / "src" / name
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target, name


def test_register_a_package_then_see_it_with_get(flyray: Flyray,
                                                 admin_server: AdminServer) -> None:
    first = flyray("register", str(PACKAGE))
    assert first.exit_code == 0, first.output
    registered = rows(first.output)
    versions = {version for version, _ in registered.values()}
    assert len(versions) == 1  # one version for the whole package: a hash of code and specs
    (version,) = versions
    assert registered == {
        **{("task", f"{PREFIX}.tasks.{t}"): (version, "new")
           for t in ("add", "double", "explode", "helper_file")},
        **{("workflow", f"{PREFIX}.workflows.{w}"): (version, "new")
           for w in ("failing", "pipeline", "ten_plus")},
        **{("launch plan (default)", f"{PREFIX}.workflows.{w}"): (version, "new")
           for w in ("failing", "pipeline", "ten_plus")},
        ("launch plan", f"{PREFIX}.workflows.pipeline_ten"): (version, "new"),
    }
    # Every entity names the one bundle, which holds the package under its source root.
    code_uri = re.search(r"code: (\S+\.zip)", first.output).group(1)  # type: ignore[union-attr]
    workflow = api(admin_server, f"workflows/{PROJECT}/{DOMAIN}/{PIPELINE}/{version}")
    plan = api(admin_server, f"launch_plans/{PROJECT}/{DOMAIN}/{PREFIX}.workflows."
                             f"pipeline_ten/{version}")
    assert workflow["code_uri"] == plan["code_uri"] == code_uri
    assert code_uri.startswith(admin_server.env["FLYRAY_BLOB_ROOT"].rstrip("/") + "/code/")
    assert plan["spec"]["fixed_inputs"] == {"n": 10}
    bundle = Path(code_uri.removeprefix("file://"))
    assert bundle.is_file()

    again = flyray("register", str(PACKAGE))
    assert again.exit_code == 0, again.output
    assert {status for _, status in rows(again.output).values()} == {"unchanged"}

    listed = flyray("get", "workflows")
    assert listed.exit_code == 0, listed.output
    assert PIPELINE in listed.output and version in listed.output
    as_json = json.loads(flyray("get", "workflows", PIPELINE, "-o", "json").output)
    assert [w["id"]["version"] for w in as_json["workflows"]] == [version]
    tasks = flyray("get", "tasks", "--limit", "2")
    assert tasks.exit_code == 0 and "2 tasks in flytesnacks/development" in tasks.output


def test_launch_plans_are_activated_by_name(flyray: Flyray) -> None:
    assert flyray("register", str(PACKAGE), "--version", "v1").exit_code == 0
    plan = f"{PREFIX}.workflows.pipeline_ten"
    listed = flyray("get", "launchplans", plan)
    assert re.search(rf"{re.escape(plan)}\s*│\s*v1\s*│\s*INACTIVE", listed.output), listed.output
    activated = flyray("launchplan", "activate", plan)
    assert activated.output == f"launch plan {plan} version v1 is ACTIVE\n"
    assert "ACTIVE" in flyray("get", "launchplans", plan).output
    deactivated = flyray("launchplan", "deactivate", plan, "--version", "v1")
    assert deactivated.output == f"launch plan {plan} version v1 is INACTIVE\n"
    missing = flyray("launchplan", "activate", "no.such.plan")
    assert missing.exit_code == 1
    assert "launch plan 'no.such.plan' is not registered in flytesnacks/development" in \
        missing.output


def test_version_option_registers_everything_under_it(flyray: Flyray,
                                                     admin_server: AdminServer) -> None:
    result = flyray("register", str(PACKAGE / "workflows.py"), "--version", "2024.1")
    assert result.exit_code == 0, result.output
    assert {version for version, _ in rows(result.output).values()} == {"2024.1"}
    # The workflow refers to its tasks, and to the launch plan it calls, at that version.
    spec = api(admin_server, f"workflows/{PROJECT}/{DOMAIN}/{PREFIX}.workflows.ten_plus/"
                             "2024.1")["spec"]
    assert {t["id"]["version"] for t in spec["tasks"].values()} == {"2024.1"}
    assert {t["id"]["resource_type"] for t in spec["tasks"].values()} == {"task",
                                                                          "launch_plan"}


def test_same_version_with_other_code_is_refused_with_the_servers_reason(
        flyray: Flyray, tmp_path: Path) -> None:
    package, name = copy_package(tmp_path)
    assert flyray("register", str(package), "--version", "v1").exit_code == 0
    helper = package / "helpers" / "arithmetic.py"
    helper.write_text(helper.read_text().replace("FACTOR = 2", "FACTOR = 3"))
    changed_code = flyray("register", str(package), "--version", "v1")
    assert changed_code.exit_code == 1
    assert (f"the admin API refused task '{name}.tasks.add' at version v1 (409 "
            "ALREADY_EXISTS)") in changed_code.output
    assert "is already registered with its code at file://" in changed_code.output

    # Under a version of its own, the changed code registers.
    assert flyray("register", str(package), "--version", "v2").exit_code == 0


def test_a_changed_spec_under_a_taken_version_names_where_it_differs(
        flyray: Flyray, admin_server: AdminServer, tmp_path: Path) -> None:
    package, name = copy_package(tmp_path)
    assert flyray("register", str(package), "--version", "v1").exit_code == 0
    tasks = package / "tasks.py"
    tasks.write_text(tasks.read_text().replace("def add(a: int, b: int) -> int:",
                                               "def add(a: int, b: int = 1) -> int:"))
    # A new process: this one has imported the package before the change.
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "flyray"), "register", str(package), "--version",
         "v1"], env={**os.environ, **admin_server.env}, capture_output=True, text=True,
        timeout=100, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (f"the admin API refused task '{name}.tasks.add' at version v1 (409 "
            "ALREADY_EXISTS)") in refused.stderr
    assert "already registered with a different spec (it differs at interface" in \
        refused.stderr


def test_unknown_project_is_a_clear_error(flyray: Flyray) -> None:
    result = flyray("register", str(PACKAGE), "--project", "nope")
    assert result.exit_code == 1
    assert "(400 INVALID_ARGUMENT): project 'nope' does not exist" in result.output


def test_unreachable_admin_says_how_to_start_one(flyray: Flyray, closed_endpoint: str) -> None:
    for args in (["register", str(PACKAGE)], ["get", "workflows"],
                 ["get", "executions", "x"], ["launchplan", "activate", "x"],
                 ["execution", "terminate", "x"]):
        result = flyray(*args, "--endpoint", closed_endpoint)
        assert result.exit_code == 1, (args, result.output)
        assert f"cannot reach the Flyray admin API at {closed_endpoint} (connection " \
               "refused)" in result.output, (args, result.output)
        assert "flyray demo start" in result.output


def test_bundle_is_a_zip_of_the_source_root_under_one_directory(
        flyray: Flyray, tmp_path: Path) -> None:
    package, name = copy_package(tmp_path)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    result = flyray("register", str(package / "tasks.py"))
    assert result.exit_code == 0, result.output
    code_uri = re.search(r"code: (\S+\.zip)", result.output).group(1)  # type: ignore[union-attr]
    with zipfile.ZipFile(code_uri.removeprefix("file://")) as archive:
        names = archive.namelist()
    assert names[0] == f"{TOP_DIRECTORY}/"
    assert sorted(n.removeprefix(f"{TOP_DIRECTORY}/") for n in names[1:]) == sorted(
        f"{name}/{rel}" for rel in ("__init__.py", "helpers/__init__.py",
                                    "helpers/arithmetic.py", "tasks.py", "workflows.py"))


def test_token_is_sent_as_a_bearer_token(tmp_path: Path) -> None:
    with start_admin(tmp_path, admin_token="s3cret") as server:
        runner = CliRunner()
        refused = runner.invoke(cli, ["register", str(PACKAGE)], env=server.env)
        assert refused.exit_code == 1
        assert "401 UNAUTHENTICATED" in refused.output
        accepted = runner.invoke(cli, ["register", str(PACKAGE), "--token", "s3cret"],
                                 env=server.env)
        assert accepted.exit_code == 0, accepted.output
        from_env = runner.invoke(cli, ["register", str(PACKAGE)],
                                 env={**server.env, "FLYRAY_ADMIN_TOKEN": "s3cret"})
        assert from_env.exit_code == 0, from_env.output


def test_run_remote_reports_a_server_that_runs_no_executions(flyray: Flyray) -> None:
    result = flyray("run", "--remote", str(PACKAGE / "workflows.py"), "pipeline", "--n", "2")
    assert result.exit_code == 1
    assert "POST /api/v1/executions failed with 503" in result.output, result.output


def test_wait_without_remote_is_a_usage_error(flyray: Flyray) -> None:
    result = flyray("run", "--wait", str(PACKAGE / "workflows.py"), "pipeline")
    assert result.exit_code == 2
    assert "--wait follows a remote execution: give --remote too" in result.output


def test_run_remote_sends_the_timeout(tmp_path: Path) -> None:
    workflows = str(PACKAGE / "workflows.py")
    with start_admin(tmp_path, launcher=RecordingLauncher()) as server:
        runner = CliRunner()
        result = runner.invoke(cli, ["run", "--remote", "--timeout", "90", "--name", "limited",
                                     workflows, "pipeline", "--n", "2"], env=server.env)
        assert result.exit_code == 0, result.output
        execution = api(server, f"executions/{PROJECT}/{DOMAIN}/limited")
        assert execution["spec"]["timeout"] == 90
        for args, expected in (
                (["--remote", "--timeout", "0"], "Invalid value for '--timeout'"),
                (["--timeout", "5"], "--timeout limits a remote execution: give --remote too")):
            refused = runner.invoke(cli, ["run", *args, workflows, "pipeline"], env=server.env)
            assert refused.exit_code == 2 and expected in refused.output, refused.output


def test_unknown_executions_are_not_found(flyray: Flyray) -> None:
    for args in (["get", "executions", "nope"], ["execution", "terminate", "nope"]):
        result = flyray(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "404 NOT_FOUND" in result.output, (args, result.output)
    # This server has no launcher: what would start a driver says so.
    for verb in ("relaunch", "recover"):
        result = flyray("execution", verb, "nope")
        assert result.exit_code == 1
        assert f"POST /api/v1/executions/{verb} failed with 503 UNAVAILABLE: this admin " \
               "server runs no executions" in result.output, result.output
    listed = flyray("get", "executions")
    assert listed.exit_code == 0 and "0 executions in flytesnacks/development" in listed.output


def test_a_source_root_without_a_package_registers_its_modules(flyray: Flyray) -> None:
    # examples/ holds plain modules; driver.py imports wf from basics: counted once.
    result = flyray("register", str(ROOT / "examples"), "--version", "ex1")
    assert result.exit_code == 0, result.output
    assert rows(result.output) == {
        ("task", "basics.generate_normal_df"): ("ex1", "new"),
        ("task", "basics.compute_stats"): ("ex1", "new"),
        ("workflow", "basics.wf"): ("ex1", "new"),
        ("launch plan (default)", "basics.wf"): ("ex1", "new"),
    }
    assert re.search(r"\(2 files, .* from .*/examples\)", result.output), result.output


def test_a_reference_is_checked_at_registration_and_its_stub_is_not_registered(
        flyray: Flyray, tmp_path: Path) -> None:
    first = flyray("register", str(PACKAGE))
    assert first.exit_code == 0, first.output
    (version,) = {v for v, _ in rows(first.output).values()}

    def package(referenced_version: str) -> Path:
        name = f"refs_{uuid.uuid4().hex[:8]}"
        target = tmp_path / "src" / name
        target.mkdir(parents=True)
        (target / "__init__.py").write_text(
            "from engine import reference_task, workflow\n\n\n"
            f"@reference_task('{PROJECT}', '{DOMAIN}', '{PREFIX}.tasks.add', "
            f"'{referenced_version}')\n"
            "def add(a: int, b: int) -> int: ...\n\n\n"
            "@workflow\n"
            "def plus_two(a: int) -> int:\n"
            "    return add(a=a, b=2)\n")
        return target

    uses = flyray("register", str(package(version)))
    assert uses.exit_code == 0, uses.output
    assert {kind for kind, _ in rows(uses.output)} == {"workflow", "launch plan (default)"}
    missing = flyray("register", str(package("nope")))
    assert missing.exit_code != 0
    assert f"refers to task {PROJECT}/{DOMAIN}/{PREFIX}.tasks.add" in missing.output
    assert "which is not registered; register it first" in missing.output
