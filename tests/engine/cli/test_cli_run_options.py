"""The options of ``flyray run`` itself: before FILE or after NAME alike (after NAME
wins, repeated ones add up), all listed by ``flyray run --help``, an input named like one
keeping its name; and ``--envvars``, set for the run's tasks on the cluster it joins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from click.testing import CliRunner

from engine.cli.main import cli
from engine.cli.run_options import RunOptions, run_options, settle

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = str(ROOT / "tests" / "fixtures" / "cli_wfs.py")
ENV_WFS = str(ROOT / "tests" / "fixtures" / "env_wfs.py")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_after_name_wins_and_repeated_options_add_up() -> None:
    settled = settle({"remote": True, "progress": False, "label": ("team=ml",),
                      "envvars": ("A=1",)},
                     {"progress": True, "label": ("env=dev",), "envvars": ("A=2", "B=x=y")})
    assert settled == RunOptions(remote=True, progress=True,
                                 labels={"team": "ml", "env": "dev"},
                                 envvars={"A": "2", "B": "x=y"})
    assert settle({}, {}) == RunOptions()


def test_run_help_lists_every_run_option() -> None:
    code, out = invoke("--help")
    assert code == 0, out
    for option in run_options():
        for flag in (*option.opts, *option.secondary_opts):
            assert flag in out, flag


def test_an_input_named_like_a_run_option_keeps_its_name() -> None:
    code, out = invoke(FIXTURE, "typed_wf", "--help")
    assert code == 0, out
    inputs, options = out.split("Options:")
    assert "--wait DURATION" in inputs and "--wait" not in options  # the input's
    assert "--remote" in options and "--envvars" in options


@pytest.mark.usefixtures("ray_cluster")
def test_options_go_before_file_or_after_name() -> None:
    code, out = invoke("--progress", "--overwrite-cache", FIXTURE, "double", "--x", "4")
    assert code == 0, out
    assert out.endswith("8\n") and "SUCCEEDED" in out  # the live table was shown
    code, out = invoke("--progress", FIXTURE, "double", "--x", "4", "--no-progress")
    assert (code, out) == (0, "8\n")  # after NAME wins


@pytest.mark.usefixtures("ray_cluster")
def test_bad_envvars_are_refused_saying_why() -> None:
    for args, expected in (
            (["-e", "NOVALUE"], "--envvars 'NOVALUE' must be KEY=VALUE"),
            (["-e", "1X=a"], "not starting with a digit"),
            (["--remote", "-e", "A=1"], "the admin API takes none for an execution"),
            # This process is connected to Ray: its job's environment is fixed.
            (["-e", "A=1"], "run flyray in a process of its own")):
        code, out = invoke(*args, FIXTURE, "double", "--x", "1")
        assert code == 2 and expected in " ".join(out.split()), (args, out)


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("ray_cluster")
def test_envvars_reach_every_task_of_the_run_and_no_other() -> None:
    """``flyray`` in a process of its own, joining the session's cluster: the tasks see
    the variable, a dynamic workflow's child too; the next run's do not."""
    env = {**os.environ, "FLYRAY_RAY_ADDRESS": ray.get_runtime_context().gcs_address,
           "FLYRAY_LOG_TO_DRIVER": "false"}
    flyray = [sys.executable, "-c", "from engine.cli.main import main; main()", "run"]
    ran = subprocess.run([*flyray, "--envvars", "FLYRAY_TEST_VAR=hello", ENV_WFS, "env_wf",
                          "--var", "FLYRAY_TEST_VAR"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=150, check=False)
    assert (ran.returncode, ran.stdout) == (0, "hello hello\n"), ran.stderr
    again = subprocess.run([*flyray, ENV_WFS, "env_wf", "--var", "FLYRAY_TEST_VAR"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
                           check=False)
    assert (again.returncode, again.stdout) == (0, "<unset> <unset>\n"), again.stderr
