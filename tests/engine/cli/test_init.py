"""``flyray init``: each template makes a project whose workflow runs, and a directory that
holds anything is refused."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli.init import TEMPLATES, InitError, create_project, init
from engine.cli.loading import load_module


def new_project(tmp_path: Path, template: str) -> tuple[Path, str]:
    """A project of ``template`` in a directory named uniquely: its package is imported
    into this process, which must not hold another of the same name."""
    directory = tmp_path / f"proj_{template}_{uuid.uuid4().hex[:8]}"
    package, written = create_project(directory, template)
    assert package == directory.name
    assert written == [Path(".gitignore"), Path("README.md"), Path(package, "__init__.py"),
                       Path(package, "workflows.py"), Path("pyproject.toml")]
    return directory, package


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("template", "inputs"), [("basic", {"name": "Ada"}),
                                                   ("classification", {"n": 400, "seed": 3})])
def test_a_new_projects_workflow_runs_as_its_readme_says(
        ray_cluster: None, tmp_path: Path, template: str, inputs: dict[str, Any]) -> None:
    directory, package = new_project(tmp_path, template)
    readme = (directory / "README.md").read_text()
    assert f"flyray run {package}/workflows.py wf{TEMPLATES[template].example_inputs}" in readme
    assert f"flyray run --remote --wait {package}/workflows.py wf" in readme
    assert "{{" not in readme + (directory / "pyproject.toml").read_text()
    module = load_module(str(directory / package / "workflows.py"))
    assert module.__name__ == f"{package}.workflows"
    outputs = module.wf(**inputs)
    if template == "basic":
        assert tuple(outputs) == ("Hello, Ada!", 8)
    else:
        weights, accuracy = outputs
        assert len(weights) == 3 and accuracy > 0.7  # the two classes are well apart


def test_the_generated_code_is_lint_clean(tmp_path: Path) -> None:
    for template in TEMPLATES:
        new_project(tmp_path, template)
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
                           str(tmp_path)], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_command_lists_what_it_wrote_and_what_to_run_next(tmp_path: Path) -> None:
    directory = tmp_path / "flights-2024"
    result = CliRunner().invoke(init, ["--template", "basic", "--package", "flights",
                                       str(directory)])
    assert result.exit_code == 0, result.output
    assert "created 5 files" in result.output and "flights/workflows.py" in result.output
    assert f"cd {directory} && flyray run flights/workflows.py wf --name Ada" in result.output
    assert (directory / "flights" / "workflows.py").is_file()
    assert '"flyray",' in (directory / "pyproject.toml").read_text()


def test_a_directory_that_holds_anything_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(InitError, match=r"taken is not empty \(it holds notes\.txt\)"):
        create_project(tmp_path / "taken", "basic")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("")
    with pytest.raises(InitError, match="is a file"):
        create_project(tmp_path / "file", "basic")
    (tmp_path / "empty").mkdir()
    assert create_project(tmp_path / "empty", "basic")[0] == "empty"


def test_a_name_that_is_no_package_or_shadows_a_module_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InitError, match=r"'2024_runs' .* is not a Python package name"):
        create_project(tmp_path / "2024-runs", "basic")
    with pytest.raises(InitError, match="'json' is importable here already"):
        create_project(tmp_path / "json", "basic")
    result = CliRunner().invoke(init, ["--package", "class", str(tmp_path / "x")])
    assert result.exit_code == 1 and "--package NAME" in result.output
    assert not (tmp_path / "x").exists()  # refused before anything was written
