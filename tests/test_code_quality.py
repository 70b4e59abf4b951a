"""Lint and strict type checks are part of the test suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_ruff_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format",
                           "concise", "."], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(300)
def test_mypy_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


MAX_MODULE_LINES = 500


def test_no_module_is_over_500_lines() -> None:
    """Past 500 lines a module holds more than one concept: split it by concept."""
    long = sorted(f"{path.relative_to(ROOT)}: {n} lines"
                  for top in ("engine", "serve")
                  for path in (ROOT / top).rglob("*.py")
                  if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES)
    assert not long, "split these modules by concept:\n" + "\n".join(long)
