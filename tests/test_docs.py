"""The documentation: the MkDocs site builds without a warning, and the README stays short."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250


@pytest.mark.timeout(300)
def test_docs_build_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict`` fails on any warning: a broken link or anchor, a page
    missing from the nav, a docstring the API reference cannot render."""
    # Material's banner about MkDocs 2.0 is noise on stderr, not a build warning.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=False, env=env,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert (tmp_path / "reference" / "index.html").is_file()


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines, at most {README_MAX_LINES} are allowed; move "
        "details into docs/"
    )
