"""What defining workflows and asking the CLI for help cost in imports.

``import engine``, defining tasks and workflows, ``flyray --help`` and ``flyray run FILE
NAME --help`` import none of the heavy libraries: a run imports Ray when it starts, a
blob fsspec when it is first read or written. Checked on ``sys.modules`` in fresh
interpreters (the test process has imported everything already), never by timing: the
times are benchmarks' business.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = str(ROOT / "tests" / "fixtures" / "cli_wfs.py")
HEAVY = ("ray", "pandas", "pyarrow", "fsspec", "s3fs", "sqlalchemy", "rich")

# Run last in each fresh interpreter: the heavy libraries it imported.
_REPORT = f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"


def _heavy_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy libraries it imported."""
    proc = subprocess.run([sys.executable, "-c", f"import json, sys\n{code}\n{_REPORT}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    found: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def test_defining_tasks_and_workflows_imports_nothing_heavy() -> None:
    assert _heavy_after(
        "import engine\n"
        "from engine import (LaunchPlan, Resources, conditional, dynamic, eager, map_task,\n"
        "                    task, workflow)\n"
        "@task(cache=True, cache_version='1', requests=Resources(cpu=1))\n"
        "def double(x: int) -> int:\n"
        "    return 2 * x\n"
        "@dynamic\n"
        "def doubles(n: int) -> list[int]:\n"
        "    return [double(x=i) for i in range(n)]\n"
        "@eager\n"
        "async def twice(x: int) -> int:\n"
        "    return await double(x=await double(x=x))\n"
        "@workflow\n"
        "def wf(xs: list[int], n: int = 2) -> tuple[list[int], int]:\n"
        "    big = conditional('big').if_(n > 1).then(double(x=n)).else_().then(double(x=0))\n"
        "    return map_task(double)(x=xs), big\n"
        "wf.compile()\n"
        "doubles.compile_as_workflow(), twice.compile_as_workflow()\n"
        "LaunchPlan.get_or_create(wf, 'wf_lp', default_inputs={'xs': [1]})\n"
        "assert double(x=2) == 4\n"
    ) == []


def test_cli_help_imports_nothing_heavy() -> None:
    """``flyray --help``, ``flyray run --help`` and the typed options of a workflow's
    ``--help`` (one input of each kind the CLI parses)."""
    for args in (["--help"], ["run", "--help"], ["run", FIXTURE, "--help"],
                 ["run", FIXTURE, "typed_wf", "--help"]):
        assert _heavy_after(
            "from engine.cli.main import main\n"
            f"sys.argv = ['flyray', *{args!r}]\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as e:\n"
            "    assert e.code == 0, e.code\n"
        ) == [], args


@pytest.mark.parametrize("first", ["engine.config", "engine.catalog.blob",
                                   "engine.dag.spec", "engine.dag.run.worker"])
def test_types_are_registered_whichever_module_a_process_imports_first(first: str) -> None:
    """A worker, the control plane or the CLI may import any module first; the package
    engine.types, which registers the transformers, is then complete before any use."""
    _heavy_after(
        f"import {first}\n"
        "from engine.types.directory import FlyteDirectory\n"
        "from engine.types.literal import Kind\n"
        "from engine.types.type_engine import TypeEngine\n"
        "assert TypeEngine.to_literal_type(FlyteDirectory).kind is Kind.BLOB\n"
        "assert TypeEngine.to_literal_type(int).kind is Kind.SIMPLE\n"
    )


def test_the_public_names_resolve_on_first_use() -> None:
    assert sorted(engine.__all__) == sorted(engine._WHERE)
    for name in engine.__all__:
        value = getattr(engine, name)
        assert value is not None and name in dir(engine), name
    with pytest.raises(AttributeError, match="engine.__all__"):
        engine.no_such_name  # noqa: B018
