"""``flyray --help`` imports no subcommand, and the CLI's modules import nothing heavy
(Ray, rich, SQLAlchemy, pandas, the executor, the admin client) until a command needs it.
Checked on ``sys.modules`` in fresh interpreters, not by timing (see benchmarks/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from engine.cli.main import COMMANDS, cli, load

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "examples" / "basics.py")

# Loaded by a command when it runs, never by the CLI's import or by --help.
HEAVY = ("ray", "rich", "sqlalchemy", "pandas", "engine.dag.run.executor", "engine.remote",
         "engine.cli.progress")


def _modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the modules it imported beyond ``engine``'s."""
    script = (
        "import sys, json\n"
        "import engine\n"
        "base = set(sys.modules)\n"
        f"{code}\n"
        "print(json.dumps(sorted(set(sys.modules) - base)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    added: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return added


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.timeout(120)
def test_help_and_entity_help_import_only_what_they_need() -> None:
    listed = _modules_after(
        "from click.testing import CliRunner\n"
        "from engine.cli.main import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\n"
        "assert all(name in out for name in ('run', 'launch', 'get', 'create')), out\n")
    assert _heavy(listed) == []
    assert [m for m in listed if m.startswith("engine.cli")] == ["engine.cli",
                                                                   "engine.cli.main"]
    entity = _modules_after(
        "from click.testing import CliRunner\n"
        "from engine.cli.main import cli\n"
        f"out = CliRunner().invoke(cli, ['run', {EXAMPLE!r}, 'wf', '--help']).output\n"
        "assert '--sigma' in out and '--envvars' in out, out\n")
    # The example itself imports pandas; finding its module's name (engine.remote.packages)
    # imports the admin client's package. Nothing else heavy comes with the help.
    assert [m for m in _heavy(entity) if not m.startswith(("pandas", "engine.remote"))] == []
    assert "engine.cli.remote_run" not in entity


def test_every_listed_command_loads_under_its_name() -> None:
    for name, spec in COMMANDS.items():
        command = load(spec)
        assert isinstance(command, click.Command) and command.name == name, name
    register = load(COMMANDS["register"])
    assert isinstance(register, click.Group) and "files" in register.commands


def test_help_lists_each_command_with_its_short_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    for name, spec in COMMANDS.items():
        assert f"{name} {spec.short_help}" in flat, name
    unknown = CliRunner().invoke(cli, ["nope"])
    assert unknown.exit_code == 2 and "No such command 'nope'" in unknown.output
