"""``flyray init [--template NAME] DIR``: a new project from a template, as ``pyflyte init``
makes one: a package with a workflow module, a README with the commands that run it, a
``pyproject.toml`` and a ``.gitignore`` (which also keeps files out of code bundles).

The templates are files under ``engine/cli/templates/``: ``common/`` for every project,
``<template>/`` for one. Each file ends in ``.tmpl`` (so that linters and type checkers
leave the templates alone) and may hold ``{{ name }}`` placeholders; in paths, the
directory ``package`` becomes the project's package and ``gitignore`` becomes
``.gitignore``.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

import click

TEMPLATES_DIR = Path(__file__).parent / "templates"
SUFFIX = ".tmpl"
_PLACEHOLDER = re.compile(r"\{\{ (\w+) \}\}")


@dataclass(frozen=True)
class Template:
    """What sets one template's project apart: its words and its dependencies."""

    description: str  # the README's first paragraph, and the template's help
    dependencies: tuple[str, ...]  # besides Flyray, for pyproject.toml
    example_inputs: str  # the README's inputs of ``flyray run ... wf``
    example_call: str  # the same inputs, as the README's Python call ``wf(...)``


TEMPLATES: dict[str, Template] = {
    "basic": Template(
        "A first Flyray project: a workflow of two typed tasks, run on Ray.",
        (), " --name Ada", 'name="Ada"'),
    "classification": Template(
        "A small machine-learning workflow: a synthetic two-class data set (cached), a "
        "logistic regression fitted for several regularisation strengths in parallel, and "
        "the best model by held-out accuracy. NumPy and pandas only.",
        ("numpy", "pandas"), " --n 2000 --seed 3", "n=2000, seed=3"),
}


class InitError(click.ClickException):
    """The project cannot be made where or as asked."""


def package_name(directory: Path, given: str | None) -> str:
    """The project's package: ``given``, or the directory's name as a Python identifier.

    Raises InitError: not an identifier, or a module of that name is importable here
    already (the project's package would shadow it, or be shadowed by it).
    """
    name = given or re.sub(r"\W+", "_", directory.name.lower()).strip("_")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise InitError(f"'{name}' (from {'--package' if given else directory}) is not a "
                        "Python package name; give one with --package NAME (letters, "
                        "digits and '_', not starting with a digit)")
    if importlib.util.find_spec(name) is not None:
        raise InitError(f"a module named '{name}' is importable here already (a standard "
                        "or installed one): a package of that name would shadow it or be "
                        "shadowed by it; give another with --package NAME")
    return name


def check_empty(directory: Path) -> None:
    """Raises InitError unless ``directory`` is absent or an empty directory."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise InitError(f"{directory} is a file; give a new or empty directory")
    held = sorted(p.name for p in directory.iterdir())
    if held:
        shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
        raise InitError(f"{directory} is not empty (it holds {shown}); flyray init writes "
                        "only into a new or empty directory, so that nothing is overwritten")


def render(text: str, values: dict[str, str], where: Path) -> str:
    """``text`` with each ``{{ name }}`` replaced by ``values[name]``."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:  # a mistake in a template, never the user's
            raise RuntimeError(f"template {where} uses '{{{{ {name} }}}}', which flyray "
                               f"init does not know (it knows {', '.join(values)})")
        return values[name]

    return _PLACEHOLDER.sub(value, text)


def target_path(relative: Path, package: str) -> Path:
    """Where a template file goes in the project."""
    parts = [package if part == "package" else part for part in relative.parts]
    parts[-1] = parts[-1].removesuffix(SUFFIX)
    if parts == ["gitignore"]:
        parts = [".gitignore"]
    return Path(*parts)


def create_project(directory: Path, template: str,
                   package: str | None = None) -> tuple[str, list[Path]]:
    """Write the project of ``template`` into ``directory`` (absent or empty): its
    package's name, and the files written, relative to ``directory``.

    Raises InitError: ``directory`` is not empty, or no package name fits.
    """
    chosen = TEMPLATES[template]
    check_empty(directory)
    name = package_name(directory.resolve(), package)
    values = {
        "project": directory.resolve().name, "package": name, "template": template,
        "distribution": name.replace("_", "-"), "description": chosen.description,
        "dependencies": "\n".join(f'    "{d}",' for d in ("flyray", *chosen.dependencies)),
        "example_inputs": chosen.example_inputs, "example_call": chosen.example_call,
    }
    written: list[Path] = []
    for source_dir in (TEMPLATES_DIR / "common", TEMPLATES_DIR / template):
        for source in sorted(source_dir.rglob(f"*{SUFFIX}")):
            target = target_path(source.relative_to(source_dir), name)
            (directory / target).parent.mkdir(parents=True, exist_ok=True)
            (directory / target).write_text(render(source.read_text(), values, source))
            written.append(target)
    return name, sorted(written)


@click.command("init", help="Create a Flyray project in DIR (new or empty) from a template: "
               "a package with a workflow module, a README with the commands that run it, "
               "a pyproject.toml and a .gitignore. Templates: " + "; ".join(
                   f"{name}: {t.description}" for name, t in TEMPLATES.items()))
@click.option("--template", "-t", type=click.Choice(list(TEMPLATES)), default="basic",
              show_default=True, help="The project to start from.")
@click.option("--package", default=None, metavar="NAME",
              help="The package's name (default: DIR's name, as a Python identifier).")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
def init(template: str, package: str | None, directory: Path) -> None:
    name, written = create_project(directory, template, package)
    click.echo(f"created {len(written)} files in {directory} from template '{template}':")
    for path in written:
        click.echo(f"  {path.as_posix()}")
    click.echo(f"next: cd {directory} && flyray run {name}/workflows.py wf "
               f"{TEMPLATES[template].example_inputs.strip()}")
