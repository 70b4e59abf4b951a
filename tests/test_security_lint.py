"""Static security checks (RELIABILITY.md P11): bandit over engine/ and serve/ at medium
severity and up finds nothing but the uses listed here, each with why it is safe; ruff's
``S`` rules run with the rest of ruff (tests/test_code_quality.py), their exceptions
explained in pyproject.toml."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# (file, bandit test id): how many findings, and why each is safe. Kept here rather than
# as ``# nosec`` comments so the reasons sit together; a new finding fails the test.
EXPLAINED: dict[tuple[str, str], tuple[int, str]] = {
    ("engine/dag/run/ray_head.py", "B108"):
        (1, "a directory of our own under /tmp, named by a hash, because Ray's socket paths "
            "under a long FLYRAY_HOME exceed the OS limit"),
    ("engine/extras/sqlite3/task.py", "B310"):
        (1, "the SQLite task downloads the URI its user gave, in the user's own worker"),
    ("engine/types/interface.py", "B307"):
        (1, "evaluates the annotation text of the user's own function in its module, as "
            "typing.get_type_hints does"),
    ("serve/store/_migrations.py", "B608"):
        (4, "table names from the ORM models in migration SQL; no input reaches them"),
}


@pytest.mark.timeout(120)
def test_bandit_finds_nothing_unexplained() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", "engine", "serve", "-ll", "-q", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.stdout, proc.stderr  # bandit exits 1 when it finds anything; JSON either way
    report = json.loads(proc.stdout)
    assert not report["errors"], report["errors"]
    found = Counter((r["filename"], r["test_id"]) for r in report["results"])
    expected = {where: count for where, (count, _) in EXPLAINED.items()}
    details = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
               for r in report["results"] if (r["filename"], r["test_id"]) not in expected]
    assert dict(found) == expected, "\n".join(details) or dict(found)
