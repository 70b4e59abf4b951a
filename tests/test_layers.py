"""The layers of the code base, as import rules checked on the source.

- Only the runtime (``engine/dag/run/``), the CLI, the control plane and the benchmarks
  import ``ray``; the compiled form, the type system and the authoring API stay Ray-free.
- The compiled form (``engine/dag/`` outside ``run/``) never imports the runtime.
- ``engine/dag/``, ``engine/catalog/`` and ``engine/types/`` never import the authoring
  API (``engine.core``).
- In ``serve``, only the Serve deployment, the launcher and the executor actor import
  Ray; ``serve/deployment.py`` is also the one module of ``serve`` the SDK imports (the seam
  ``flyray demo`` uses).

Function-local imports count as much as top-level ones.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    path
    for top in ("engine", "serve", "benchmarks", "examples")
    for path in (ROOT / top).rglob("*.py")
)


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """Every module that ``path`` (module ``module``) imports, with the line, relative
    imports resolved."""
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[: len(package) - node.level + 1]
                base = ".".join([*prefix, base] if base else prefix)
            yield node.lineno, base
            for alias in node.names:  # ``from engine.dag import run`` imports a module too
                yield node.lineno, f"{base}.{alias.name}"


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


RAY_ALLOWED = ("engine.dag.run", "engine.cli", "serve", "benchmarks")
RULES: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    # (why, modules the rule applies to, except these, may not import)
    ("only the runtime, the CLI, the control plane and the benchmarks use Ray",
     ("engine", "examples"), RAY_ALLOWED, ("ray",)),
    ("the compiled form does not depend on the runtime",
     ("engine.dag",), ("engine.dag.run",), ("engine.dag.run",)),
    ("the compiled form, the runtime, the catalog and the type system never import the "
     "authoring API", ("engine.dag", "engine.catalog", "engine.types"), (), ("engine.core",)),
    ("in serve, only the Serve deployment, the launcher and the executor actor use Ray; "
     "the admin app, its routers and its store run without it",
     ("serve",), ("serve.deployment", "serve.control.launcher", "serve.driver.executor"),
     ("ray",)),
    ("the SDK reaches the server only through serve.deployment",
     ("engine",), (), ("serve",)),
]
SEAM = "serve.deployment"


def _violations(why: str, applies: tuple[str, ...], exempt: tuple[str, ...],
                banned: tuple[str, ...]) -> list[str]:
    found = []
    for path in SOURCES:
        module = _module_of(path)
        if not _within(module, *applies) or _within(module, *exempt):
            continue
        for line, imported in _imports(path, module):
            if _within(imported, *banned) and not (banned == ("serve",)
                                                   and _within(imported, SEAM)):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return sorted(set(found))


@pytest.mark.parametrize(("why", "applies", "exempt", "banned"), RULES,
                         ids=[rule[0][:40] for rule in RULES])
def test_layer_rule(why: str, applies: tuple[str, ...], exempt: tuple[str, ...],
                    banned: tuple[str, ...]) -> None:
    found = _violations(why, applies, exempt, banned)
    assert not found, f"{why}:\n" + "\n".join(found)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The import reader finds top-level, function-local and relative imports."""
    source = tmp_path / "mod.py"
    source.write_text("import ray\n\ndef f():\n    from engine.core import task\n"
                      "    from .run import worker\n")
    found = {name for _, name in _imports(source, "engine.dag.trace")}
    assert found >= {"ray", "engine.core", "engine.core.task", "engine.dag.run.worker"}
