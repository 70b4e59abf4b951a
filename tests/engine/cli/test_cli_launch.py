"""``flyray launch`` of a registered launch plan, ``--wait`` on it and on ``execution
relaunch|recover``, and ``flyray get executions NAME`` showing inputs and outputs: the
admin API over HTTP, running executions on the session's Ray cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli.main import cli
from serve.control.launcher import RayLauncher
from tests.engine.cli.conftest import AdminServer, start_admin
from tests.engine.cli.test_register import PACKAGE, PREFIX
from tests.serve.conftest import FAST, launcher  # noqa: F401  (the Ray launcher fixture)

PIPELINE = f"{PREFIX}.workflows.pipeline"


def _flyray(server: AdminServer, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=server.env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _execution(output: str) -> str:
    match = re.search(r"execution (\S+): http", output)
    assert match, output
    return match.group(1)


@pytest.mark.timeout(300)
def test_launch_wait_show_relaunch_and_recover(tmp_path: Path,
                                               launcher: RayLauncher) -> None:  # noqa: F811
    with start_admin(tmp_path, launcher=launcher, liveness=FAST) as server:
        registered = _flyray(server, "register", str(PACKAGE))
        assert registered.exit_code == 0, registered.output

        ran = _flyray(server, "launch", PIPELINE, "--input", "n=4", "--wait", "--no-progress")
        assert ran.exit_code == 0, ran.output
        assert ran.output.endswith("12\n")  # 2n + n
        name = _execution(ran.output)

        shown = _flyray(server, "get", "executions", name)
        assert shown.exit_code == 0, shown.output
        rows = {tuple(c.strip() for c in line.strip("│ ").split("│"))
                for line in shown.output.splitlines()}
        assert ("input", "n", "4") in rows and ("output", "o0", "12") in rows, shown.output
        data = yaml.safe_load(_flyray(server, "get", "executions", name, "-o", "yaml").output)
        assert (data["inputs"], data["outputs"]) == ({"n": 4}, {"o0": 12})

        again = _flyray(server, "execution", "relaunch", name, "--wait", "--no-progress")
        assert again.exit_code == 0, again.output
        assert again.output.startswith("relaunched as execution ")
        assert again.output.endswith("{'o0': 12}\n")

        failed = _flyray(server, "launch", f"{PREFIX}.workflows.failing", "--input", "n=1",
                         "--wait", "--no-progress")
        assert failed.exit_code == 1
        assert "FAILED with a USER error" in failed.output, failed.output
        recovered = _flyray(server, "execution", "recover", _execution(failed.output),
                            "--wait", "--no-progress")
        assert recovered.exit_code == 1, recovered.output
        assert recovered.output.startswith("recovered as execution ")
        assert "n=1 is not welcome here" in recovered.output


def test_launch_checks_inputs_by_the_registered_interface(tmp_path: Path) -> None:
    with start_admin(tmp_path) as server:
        assert _flyray(server, "register", str(PACKAGE)).exit_code == 0
        for args, expected in (
                (["--input", "n=four"], "input 'n': 'four' is not a valid integer"),
                (["--input", "m=1"], "unknown input(s) ['m']; launch plan "
                 f"{PIPELINE} takes n"),
                (["--input", "n"], "'n' must be NAME=VALUE")):
            refused = _flyray(server, "launch", PIPELINE, *args)
            assert refused.exit_code == 2 and expected in refused.output, (args,
                                                                          refused.output)
        fixed = _flyray(server, "launch", f"{PREFIX}.workflows.pipeline_ten", "--input",
                        "n=1")
        assert fixed.exit_code == 2
        assert "input(s) ['n'] are fixed by launch plan" in fixed.output, fixed.output
        missing = _flyray(server, "launch", "nope")
        assert missing.exit_code == 1
        assert "launch plan 'nope' is not registered" in missing.output, missing.output
