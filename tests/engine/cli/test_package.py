"""``flyray package``, ``flyray serialize`` and ``flyray register files``: build once where the
source is, register from another process that cannot import it, against a real admin API
served over HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from engine.admin_client import AdminClient, AdminRequestError
from engine.config import Settings
from tests.engine.cli.conftest import AdminServer, Flyray
from tests.engine.cli.test_register import copy_package, rows

FLYRAY = str(Path(sys.executable).parent / "flyray")
PROJECT, DOMAIN = "flytesnacks", "development"
# ``flyray`` in a process that refuses to import the package named by its first argument:
# registering files must need Flyray alone.
WITHOUT_SOURCE = """
import sys
blocked = sys.argv[1]


class Blocker:
    def find_spec(self, fullname, path=None, target=None):
        if fullname == blocked or fullname.startswith(blocked + "."):
            raise ImportError(f"user code imported: {fullname}")
        return None


sys.meta_path.insert(0, Blocker())
sys.argv = ["flyray", *sys.argv[2:]]
from engine.cli.main import main
main()
"""


def run_flyray(server: AdminServer, *args: str, cwd: Path | None = None,
               blocked: str | None = None) -> subprocess.CompletedProcess[str]:
    """``flyray ARGS`` in a new process; with ``blocked``, one that cannot import that
    package (and has no PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = ([sys.executable, "-c", WITHOUT_SOURCE, blocked, *args] if blocked
               else [FLYRAY, *args])
    return subprocess.run(command, cwd=cwd, env={**env, **server.env}, capture_output=True,
                          text=True, timeout=100, check=False)


def api(server: AdminServer, path: str) -> Any:
    return AdminClient(server.endpoint).get(f"/api/v1/{path}")


def package_of(server: AdminServer, source: Path, out: Path, *args: str,
               command: str = "package") -> Path:
    done = run_flyray(server, command, str(source), "-o", str(out), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_package_twice_gives_the_same_bytes(admin_server: AdminServer, tmp_path: Path) -> None:
    source, name = copy_package(tmp_path)
    for suffix in ("tar.gz", "zip"):
        first = package_of(admin_server, source, tmp_path / f"a.{suffix}").read_bytes()
        (source / "tasks.py").touch()  # a new mtime, the same code
        second = package_of(admin_server, source, tmp_path / f"b.{suffix}").read_bytes()
        assert first == second
    directory = package_of(admin_server, source, tmp_path / "dir")
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(p.name for p in directory.iterdir())
        assert {(m.mtime, m.uid, m.uname, m.mode) for m in members} == {(315532800, 0, "",
                                                                         0o644)}
        assert all(tar.extractfile(m).read() == (directory / m.name).read_bytes()  # type: ignore[union-attr]
                   for m in members)
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.read("bundle.zip") == (directory / "bundle.zip").read_bytes()
    manifest = json.loads((directory / "manifest.json").read_text())
    assert str(tmp_path) not in (directory / "manifest.json").read_text()
    assert [(e["kind"], e["name"].removeprefix(f"{name}."), e["default_launch_plan"])
            for e in manifest["entities"]] == [
        *[("task", f"tasks.{t}", False) for t in ("add", "double", "explode", "helper_file")],
        ("workflow", "workflows.failing", False), ("launch_plan", "workflows.failing", True),
        ("workflow", "workflows.pipeline", False), ("launch_plan", "workflows.pipeline", True),
        ("launch_plan", "workflows.pipeline_ten", False),
        ("workflow", "workflows.ten_plus", False), ("launch_plan", "workflows.ten_plus", True),
    ]
    spec = json.loads((directory / manifest["entities"][0]["file"]).read_text())
    assert spec["id"]["version"] == manifest["version"]


def test_register_files_needs_no_source_and_matches_flyray_register(
        admin_server: AdminServer, tmp_path: Path) -> None:
    source, name = copy_package(tmp_path)
    archive = package_of(admin_server, source, tmp_path / "ci" / "pkg.tar.gz")
    with tarfile.open(archive) as tar:
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        version = json.loads(manifest.read())["version"]
    away = source.parent.rename(tmp_path / "away")  # the source is gone for the registrar
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_flyray(admin_server, "register", "files", str(archive), cwd=elsewhere,
                      blocked=name)
    assert done.returncode == 0, done.stdout + done.stderr
    registered = rows(done.stdout)
    assert len(registered) == 11
    assert set(registered.values()) == {(version, "new")}
    workflow = api(admin_server, f"workflows/{PROJECT}/{DOMAIN}/{name}.workflows.pipeline/"
                                 f"{version}")
    assert workflow["code_uri"].startswith(
        admin_server.env["FLYRAY_BLOB_ROOT"].rstrip("/") + "/code/")
    # The same code registered by import: the same version, the same specs and bundle.
    away.rename(source.parent)
    again = run_flyray(admin_server, "register", str(source))
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(rows(again.stdout).values()) == {(version, "unchanged")}


def test_version_moves_every_identifier(admin_server: AdminServer, tmp_path: Path) -> None:
    source, name = copy_package(tmp_path)
    out = package_of(admin_server, source, tmp_path / "out", "--version", "built")
    shutil.rmtree(source.parent)
    done = run_flyray(admin_server, "register", "files", *sorted(map(str, out.iterdir())),
                      "--version", "v7", cwd=tmp_path, blocked=name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {v for v, _ in rows(done.stdout).values()} == {"v7"}
    plan = api(admin_server, f"launch_plans/{PROJECT}/{DOMAIN}/{name}.workflows.pipeline_ten/"
                             "v7")
    assert plan["spec"]["workflow_id"]["version"] == "v7"
    calling = api(admin_server, f"workflows/{PROJECT}/{DOMAIN}/{name}.workflows.ten_plus/v7")
    assert {t["id"]["version"] for t in calling["spec"]["tasks"].values()} == {"v7"}


def test_serialize_writes_specs_without_code(flyray: Flyray, admin_server: AdminServer,
                                             tmp_path: Path) -> None:
    source, name = copy_package(tmp_path)
    out = package_of(admin_server, source, tmp_path / "specs", command="serialize")
    assert not (out / "bundle.zip").exists()
    assert json.loads((out / "manifest.json").read_text())["bundle"] is None
    result = flyray("register", "files", str(out), "--version", "s1")
    assert result.exit_code == 0, result.output
    assert "code: none (specs only" in result.output
    task = api(admin_server, f"tasks/{PROJECT}/{DOMAIN}/{name}.tasks.add/s1")
    assert task["code_uri"] is None


@pytest.mark.parametrize("form", ["files", "package"])
def test_output_location_prefix_is_a_default_of_launch_plans(
        flyray: Flyray, admin_server: AdminServer, tmp_path: Path, form: str) -> None:
    """``register files`` and ``register PATH`` alike give the prefix to launch plans."""
    source, name = copy_package(tmp_path)
    what = ["files", str(package_of(admin_server, source, tmp_path / "out"))] \
        if form == "files" else [str(source)]
    prefix = f"{Settings(home=tmp_path / 'server').blob_root_uri.rstrip('/')}/raw/ci"
    result = flyray("register", *what, "--version", "p1", "--output-location-prefix", prefix)
    assert result.exit_code == 0, result.output
    plans = f"launch_plans/{PROJECT}/{DOMAIN}/{name}.workflows"
    assert api(admin_server, f"{plans}.pipeline_ten/p1")["spec"]["raw_output_data_config"] \
        == {"output_location_prefix": prefix}
    # A default launch plan is the admin's, made from its workflow: it gets none.
    assert "raw_output_data_config" not in api(admin_server, f"{plans}.pipeline/p1")["spec"]


def test_dry_run_shows_new_identical_and_differing(flyray: Flyray, admin_server: AdminServer,
                                                  tmp_path: Path) -> None:
    source, name = copy_package(tmp_path)
    out = package_of(admin_server, source, tmp_path / "v1", "--version", "v1")
    dry = flyray("register", "files", str(out), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing registered" in dry.output
    assert dry.output.count("no: new") == 11
    with pytest.raises(AdminRequestError, match="404"):
        api(admin_server, f"tasks/{PROJECT}/{DOMAIN}/{name}.tasks.add/v1")
    assert flyray("register", "files", str(out)).exit_code == 0
    same = flyray("register", "files", str(out), "--dry-run")
    assert same.exit_code == 0, same.output
    assert same.output.count("yes, identical") == 11
    tasks = source / "tasks.py"
    tasks.write_text(tasks.read_text().replace("def add(a: int, b: int) -> int:",
                                               "def add(a: int, b: int = 1) -> int:"))
    changed = package_of(admin_server, source, tmp_path / "v1b", "--version", "v1")
    differs = flyray("register", "files", str(changed), "--dry-run")
    assert differs.exit_code == 1, differs.output
    assert "yes, differs at interface.inputs[1].default, code_uri" in differs.output
    assert "give another --version" in differs.output


def test_a_refusal_is_the_admins_message(flyray: Flyray, tmp_path: Path) -> None:
    source, _ = copy_package(tmp_path)
    out = package_of_here(source, tmp_path / "out")
    result = flyray("register", "files", str(out), "--project", "nope")
    assert result.exit_code == 1
    assert "(400 INVALID_ARGUMENT): project 'nope' does not exist" in result.output


def package_of_here(source: Path, out: Path) -> Path:
    done = subprocess.run([FLYRAY, "package", str(source), "-o", str(out)],
                          capture_output=True, text=True, timeout=100, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def error_of(flyray: Flyray, *args: str) -> str:
    result = flyray("register", "files", *args)
    assert result.exit_code == 1, result.output
    return result.output


def test_bad_input_is_a_clear_error(flyray: Flyray, tmp_path: Path) -> None:
    source, _ = copy_package(tmp_path)
    out = package_of_here(source, tmp_path / "out")
    assert f"no such file or directory: {tmp_path}/missing.tar.gz" in error_of(
        flyray, str(tmp_path / "missing.tar.gz"))
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(package_of_here(source, tmp_path / "whole.tar.gz").read_bytes()[:300])
    assert f"{broken} is not a readable tar.gz archive" in error_of(flyray, str(broken))
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert "junk.zip is not a readable zip archive" in error_of(flyray, str(tmp_path / "junk.zip"))
    spec_file = sorted(out.glob("*-task-*.json"))[0]
    spec = json.loads(spec_file.read_text())
    spec_file.write_text(json.dumps({**spec, "colour": "red"}))
    message = error_of(flyray, str(out))
    assert f"{spec_file}: this Flyray does not read the task spec as written; it differs " \
           "at colour" in message
    spec_file.unlink()
    assert "but no file given holds its spec" in error_of(flyray, str(out))
    (tmp_path / "odd.json").write_text(json.dumps({"id": {"name": "x"}}))
    assert "odd.json is not a task, workflow or launch plan spec" in error_of(
        flyray, str(tmp_path / "odd.json"))
    (tmp_path / "notes.txt").write_text("hello")
    assert "is not a spec file (.json), a package directory" in error_of(
        flyray, str(tmp_path / "notes.txt"))

