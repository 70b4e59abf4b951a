"""What code bundles leave out (``.gitignore`` as git reads it, and ``.flyrayignore``) and
how the commands that bundle report it: ``flyray register PATH --dry-run`` lists the files
without an admin API, a registration says what it bundled and warns when that is large."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.remote.bundle import (
    LARGE_BYTES,
    LARGE_FILES,
    BundleError,
    build_bundle,
    source_files,
)
from tests.engine.cli.conftest import Flyray


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_gitignore_patterns_leave_files_out_as_git_does(tmp_path: Path) -> None:
    write(tmp_path, {
        ".gitignore": "# comment\nsecrets.txt\nlogs/\n*.csv\n/build\n**/cache/x\n"
                      "!keep.csv\nsrc/*.tmp\n",
        "src/mod.py": "", "src/secrets.txt": "", "secrets.txt": "",  # a name, at any depth
        "logs/run.txt": "", "src/logs/old.txt": "",  # 'dir/': that directory, anywhere
        "a.csv": "", "src/deep/b.csv": "", "src/keep.csv": "",  # '!': brought back
        "build/out.py": "", "src/build/kept.py": "",  # '/build': at the root only
        "src/cache/x": "", "src/cache/y": "",  # '**/'
        "src/one.tmp": "", "src/deep/two.tmp": "",  # '*' stops at '/'
    })
    assert source_files(tmp_path) == ["src/build/kept.py", "src/cache/y", "src/deep/two.tmp",
                                      "src/keep.csv", "src/mod.py"]


def test_nested_and_enclosing_gitignores_and_flyrayignore_bring_back(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the top of a git work tree: its .gitignore counts
    write(tmp_path, {
        ".gitignore": "project/data/\n*.parquet\n",
        "project/pkg/__init__.py": "", "project/data/big.bin": "", "project/pkg/t.parquet": "",
        "project/pkg/.gitignore": "generated.py\n",  # relative to pkg/, deeper files win
        "project/pkg/generated.py": "", "project/pkg/sub/generated.py": "",
        "project/.gitignore": "!*.parquet\nnotes.md\n",
        "project/notes.md": "", "project/pkg/notes.md": "", "project/README.md": "",
        "project/.flyrayignore": "!notes.md\nREADME.md\n",  # read last: wins over .gitignore
    })
    assert source_files(tmp_path / "project") == [
        "notes.md", "pkg/__init__.py", "pkg/notes.md", "pkg/t.parquet"]


def test_a_gitignore_above_a_root_outside_any_git_work_tree_is_not_read(
        tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "*.py\n", "root/mod.py": ""})
    assert source_files(tmp_path / "root") == ["mod.py"]


def test_a_pattern_git_cannot_read_names_its_file(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "ok.txt\n***\\\n", "mod.py": ""})
    with pytest.raises(BundleError, match=r"\.gitignore holds a pattern"):
        source_files(tmp_path)


def test_a_bundle_is_large_above_its_files_or_its_bytes(tmp_path: Path) -> None:
    write(tmp_path / "few", {"a.py": "x" * 100})
    few = build_bundle(tmp_path / "few")
    assert few.file_sizes() == {"a.py": 100} and few.source_bytes == 100 and not few.large
    write(tmp_path / "many", {f"m{i}.py": "" for i in range(LARGE_FILES + 1)})
    assert build_bundle(tmp_path / "many").large
    write(tmp_path / "big", {"big.txt": "0" * (LARGE_BYTES + 1)})
    assert build_bundle(tmp_path / "big").large


def make_package(root: Path, extra: dict[str, str] | None = None) -> str:
    """A package of one task and one workflow under ``root``, named uniquely (it is
    imported into this process)."""
    name = f"report_pkg_{uuid.uuid4().hex[:8]}"
    write(root, {
        f"{name}/__init__.py": "",
        f"{name}/flows.py": "from engine import task, workflow\n\n\n@task\n"
                            "def double(x: int) -> int:\n    return 2 * x\n\n\n@workflow\n"
                            "def wf(x: int = 1) -> int:\n    return double(x=x)\n",
        ".gitignore": "data/\n", "data/rows.csv": "1,2\n", **(extra or {}),
    })
    return name


def test_dry_run_lists_the_bundle_without_an_admin_api(tmp_path: Path,
                                                       closed_endpoint: str) -> None:
    name = make_package(tmp_path / "src")
    result = CliRunner().invoke(cli, ["register", str(tmp_path / "src" / name), "--dry-run"],
                                env={"FLYRAY_ADMIN_ENDPOINT": closed_endpoint})
    assert result.exit_code == 0, result.output
    listed = re.findall(r"^ +\d+(?:\.\d)? (?:B|KB)  (\S+)$", result.stdout, re.M)
    assert listed == [f"{name}/__init__.py", f"{name}/flows.py"]  # data/ is gitignored
    root = (tmp_path / "src").resolve()
    assert re.search(rf"^2 files \(\d+ B\) from {re.escape(str(root))}$", result.stdout, re.M)
    assert "would register 1 task, 1 workflow, 1 launch plan at version " in result.stdout
    assert "nothing uploaded or registered" in result.stdout


def test_registering_says_what_it_bundled_and_warns_when_it_is_large(
        flyray: Flyray, tmp_path: Path) -> None:
    small = make_package(tmp_path / "small")
    result = flyray("register", str(tmp_path / "small" / small))
    assert result.exit_code == 0, result.output
    root = (tmp_path / "small").resolve()
    assert re.search(rf"^bundled 2 files \(\d+ B\) from {re.escape(str(root))}$",
                     result.stderr, re.M)
    assert "large bundle" not in result.stderr
    big = make_package(tmp_path / "big", {f"notes/n{i}.txt": "" for i in range(LARGE_FILES)})
    result = flyray("register", str(tmp_path / "big" / big))
    assert result.exit_code == 0, result.output
    assert f"bundled {LARGE_FILES + 2} files" in result.stderr
    assert (f"warning: large bundle: {LARGE_FILES + 2} files" in result.stderr
            and f"'flyray register {tmp_path / 'big' / big} --dry-run'" in result.stderr
            and ".gitignore or " in result.stderr)
