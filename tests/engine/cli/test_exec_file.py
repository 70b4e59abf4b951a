"""``flyray run --remote --exec-file spec.yaml``: an execution spec file gives the inputs and
the run options; options on the command line win; unknown keys are refused, listing the
known ones. Against an admin API that records the drivers it would start (no Ray)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from engine.cli.main import cli
from engine.cli.run_options import EXEC_KEYS, RunOptions, read_exec_file, settle
from serve.driver.code_loading import compile_registered
from tests.engine.cli.conftest import start_admin
from tests.engine.cli.test_register import DOMAIN, PACKAGE, PROJECT, api
from tests.serve.remote import RecordingLauncher

WORKFLOWS = str(PACKAGE / "workflows.py")


def _spec(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_file_is_under_the_command_line(tmp_path: Path) -> None:
    path = _spec(tmp_path, "project: p\ndomain: d\nname: from-file\ntimeout: 60\n"
                           "labels: {team: ml, env: prod}\nannotations: {note: x}\n"
                           "overwrite_cache: true\ninputs: {n: 5}\n")
    settled = settle({"remote": True, "exec_file": path}, {"name": "given", "label":
                                                           ("env=dev",)})
    assert settled == RunOptions(remote=True, project="p", domain="d", name="given",
                                 timeout=60, labels={"team": "ml", "env": "dev"},
                                 annotations={"note": "x"}, overwrite_cache=True,
                                 exec_inputs={"n": 5})
    json_path = _spec(tmp_path, '{"wait": true, "endpoint": "http://h:1"}', "spec.json")
    assert settle({"remote": True, "exec_file": json_path}, {}) == RunOptions(
        remote=True, wait=True, endpoint="http://h:1")


@pytest.mark.parametrize(("text", "message"), [
    ("inputs: {n: 1}\nprojet: p\n", "unknown key(s) ['projet']; an execution spec takes "
                                    + ", ".join(EXEC_KEYS)),
    ("timeout: soon\n", "'timeout' must be a int or float, got 'soon'"),
    ("timeout: -1\n", "'timeout' must be positive seconds"),
    ("wait: 1\n", "'wait' must be a bool, got 1"),
    ("labels: {team: 3}\n", "'labels' must map names to strings"),
    ("inputs: [1, 2]\n", "'inputs' must map names to values"),
    ("image: img:1\n", "unknown key(s) ['image']"),
    ("- a\n", "must hold an object"),
])
def test_bad_files_are_refused_saying_why(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(click.BadParameter) as info:
        read_exec_file(_spec(tmp_path, text))
    assert message in info.value.message


def test_exec_file_needs_remote(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError, match="give --remote too"):
        settle({"exec_file": _spec(tmp_path, "name: x\n")}, {})


def test_run_remote_takes_inputs_and_options_from_the_file(tmp_path: Path) -> None:
    path = _spec(tmp_path, "name: from-file\nlabels: {team: ml}\ninputs: {n: 5}\n")
    with start_admin(tmp_path, launcher=RecordingLauncher()) as server:
        runner = CliRunner()
        ran = runner.invoke(cli, ["run", "--remote", "--exec-file", path, "--label", "env=dev",
                                  WORKFLOWS, "pipeline"], env=server.env)
        assert ran.exit_code == 0, ran.output
        execution = api(server, f"executions/{PROJECT}/{DOMAIN}/from-file")
        assert execution["spec"]["labels"] == {"team": "ml", "env": "dev"}
        data = yaml.safe_load(runner.invoke(cli, ["get", "executions", "from-file", "-o",
                                                  "yaml"], env=server.env).output)
        assert data["inputs"] == {"n": 5}

        # An input given as an option wins over the file's.
        again = runner.invoke(cli, ["run", "--remote", "--exec-file", path, "--name", "given",
                                    WORKFLOWS, "pipeline", "--n", "6"], env=server.env)
        assert again.exit_code == 0, again.output
        data = yaml.safe_load(runner.invoke(cli, ["get", "executions", "given", "-o",
                                                  "yaml"], env=server.env).output)
        assert data["inputs"] == {"n": 6}

        # With --image the tasks that give none are registered in that image, and the
        # cluster's driver, compiling the registered code again, finds the same specs.
        imaged = runner.invoke(cli, ["run", "--remote", "--name", "imaged", "--image",
                                     "img:1", WORKFLOWS, "pipeline"], env=server.env)
        assert imaged.exit_code == 0, imaged.output
        ran = api(server, f"executions/{PROJECT}/{DOMAIN}/imaged")["spec"]["workflow"]
        spec = api(server, f"workflows/{PROJECT}/{DOMAIN}/{ran['name']}/{ran['version']}")
        images = {t["metadata"]["container_image"] for t in spec["spec"]["tasks"].values()}
        assert images == {"img:1"}
        compiled = compile_registered(spec["spec"], None, None)
        assert {t.metadata.container_image for t in compiled.spec.tasks.values()} == {"img:1"}
