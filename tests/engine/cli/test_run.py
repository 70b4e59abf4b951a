"""``flyray run``: options from the signature, bad values, help, progress and outputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = str(ROOT / "tests" / "fixtures" / "cli_wfs.py")
EXAMPLE = str(ROOT / "examples" / "basics.py")

pytestmark = pytest.mark.usefixtures("ray_cluster")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_readme_example_prints_mean_and_std() -> None:
    code, out = invoke(EXAMPLE, "wf", "--n", "500", "--mean", "42", "--sigma", "2")
    assert code == 0, out
    match = re.fullmatch(r"DefaultNamedTupleOutput\(o0=(\S+), o1=(\S+)\)\n", out)
    assert match, out
    mean, std = float(match.group(1)), float(match.group(2))
    assert abs(mean - 42) < 0.6 and abs(std - 2) < 0.4


def test_file_help_lists_tasks_and_workflows() -> None:
    code, out = invoke(EXAMPLE, "--help")
    assert code == 0
    for name in ("wf", "generate_normal_df", "compute_stats"):
        assert re.search(rf"^\s+{name}\s", out, re.M), out


def test_entity_help_shows_types_and_defaults() -> None:
    code, out = invoke(FIXTURE, "typed_wf", "--help")
    assert code == 0
    assert "--xs" in out and "(required)" in out
    assert "[default: red]" in out
    assert "--loud / --no-loud" in out


def test_bad_value_is_rejected_naming_input_and_type() -> None:
    code, out = invoke(EXAMPLE, "wf", "--n", "abc")
    assert code == 2
    assert "Invalid value for '--n'" in out and "not a valid integer" in out


def test_bad_json_value_names_input_and_expected_type() -> None:
    code, out = invoke(FIXTURE, "typed_wf", "--xs", '["a"]', "--weights", "{}",
                       "--p", '{"x": 1, "y": 2.5}')
    assert code == 2
    assert "'--xs'" in out and "list[int]" in out and "expected a JSON int" in out


def test_missing_required_input() -> None:
    code, out = invoke(FIXTURE, "typed_wf", "--weights", "{}", "--p", '{"x": 1, "y": 2}')
    assert code == 2
    assert "Missing option '--xs'" in out


def test_unknown_entity_lists_what_the_file_has() -> None:
    code, out = invoke(EXAMPLE, "nope")
    assert code == 2
    assert "no task or workflow 'nope'" in out and "compute_stats" in out


def test_every_input_kind_parses_and_runs() -> None:
    code, out = invoke(
        FIXTURE, "typed_wf", "--xs", "[1, 2, 3]", "--weights", '{"b": 0.5, "a": 1}',
        "--p", '{"x": 3, "y": 0.25}', "--color", "green", "--when", "2030-05-01T10:00:00",
        "--loud", "--wait", "1h30m",
    )
    assert code == 0, out
    assert out == ("SUM=6 W=[('A', 1.0), ('B', 0.5)] P=(3,0.25) COLOR=GREEN YEAR=2030 "
                   "WAIT=5400\n")


def test_inputs_file_fills_what_options_do_not(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"xs": [4], "weights": {}, "p": {"x": 0, "y": 1.5},
                                  "color": "green"}))
    code, out = invoke(FIXTURE, "typed_wf", "--inputs-file", str(inputs), "--xs", "[5, 5]")
    assert code == 0, out
    assert out.startswith("sum=10 w=[] p=(0,1.5) color=green year=2024 wait=5")


def test_single_task_runs() -> None:
    code, out = invoke(FIXTURE, "double", "--x", "21")
    assert (code, out) == (0, "42\n")


def test_failure_exits_non_zero_with_short_error() -> None:
    code, out = invoke(FIXTURE, "failing_wf", "--n", "5", "--no-progress")
    assert code == 1
    assert "node 'n0'" in out and "cli_wfs.explode" in out
    assert "ValueError: n=5 is too big for this task" in out


def test_progress_display_shows_node_phases() -> None:
    code, out = invoke(EXAMPLE, "wf", "--n", "10", "--progress")
    assert code == 0, out
    assert "basics.compute_stats" in out and "SUCCEEDED" in out


def test_console_script_runs_the_readme_command() -> None:
    """The installed ``flyray`` command, as a user types it, in a fresh process."""
    env = dict(os.environ, FLYRAY_LOG_TO_DRIVER="false")
    flyray = Path(sys.executable).with_name("flyray")
    proc = subprocess.run(
        [str(flyray), "run", "examples/basics.py", "wf", "--n", "500", "--mean", "42",
         "--sigma", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=110, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("DefaultNamedTupleOutput(o0=42.") or \
        proc.stdout.startswith("DefaultNamedTupleOutput(o0=41.")


def test_progress_display_counts_child_nodes() -> None:
    children = str(ROOT / "tests" / "fixtures" / "children_wfs.py")
    code, out = invoke(children, "with_dynamic", "--n", "3", "--progress")
    assert code == 0, out
    assert "children" in out and "3 SUCCEEDED" in out
