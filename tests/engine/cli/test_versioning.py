"""What a registration sends: every entity of a package tree, in an order the admin API
accepts, moved consistently to one project, domain and version."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.dag.spec import ResourceType, TaskSpec, WorkflowSpec
from engine.dag.validate import validate_workflow
from engine.remote.bundle import build_bundle
from engine.remote.packages import LoadError, find_entities, load_package
from engine.remote.registration import (
    Step,
    content_version,
    modules_outside,
    plan_registration,
    with_version,
)
from serve.store.specs import parse_launch_plan_spec, parse_task_spec, parse_workflow_spec

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "tests" / "fixtures" / "remote_pkg"
PREFIX = "tests.fixtures.remote_pkg"


def steps_of(path: Path) -> list[Step]:
    return plan_registration(find_entities(load_package(path).modules))


WHOLE = [PREFIX, f"{PREFIX}.helpers", f"{PREFIX}.helpers.arithmetic", f"{PREFIX}.tasks",
         f"{PREFIX}.workflows"]


@pytest.mark.parametrize(("path", "modules"), [
    (PACKAGE, WHOLE), (PACKAGE / "workflows.py", WHOLE), (PACKAGE / "tasks.py", WHOLE),
    # A file of a subpackage: that subpackage, whole.
    (PACKAGE / "helpers" / "arithmetic.py", WHOLE[1:3]),
])
def test_a_file_or_directory_registers_its_whole_package(path: Path,
                                                         modules: list[str]) -> None:
    package = load_package(path)
    assert package.root == ROOT
    assert [m.__name__ for m in package.modules] == modules
    names = {(s.kind.value, s.id.name) for s in steps_of(path)}
    if modules == WHOLE:
        assert {("workflow", f"{PREFIX}.workflows.pipeline"), ("task", f"{PREFIX}.tasks.double"),
                ("launch_plan", f"{PREFIX}.workflows.pipeline_ten")} <= names
    else:
        assert names == set()


def test_order_puts_what_is_referred_to_first() -> None:
    steps = steps_of(PACKAGE)
    kinds = [s.kind for s in steps]
    last_task = max(i for i, k in enumerate(kinds) if k is ResourceType.TASK)
    assert all(k is ResourceType.TASK for k in kinds[:last_task + 1])
    position = {(s.kind, s.id.name, s.default_plan): i for i, s in enumerate(steps)}
    plan = position[(ResourceType.LAUNCH_PLAN, f"{PREFIX}.workflows.pipeline_ten", False)]
    assert position[(ResourceType.WORKFLOW, f"{PREFIX}.workflows.pipeline", False)] < plan
    # ten_plus calls the launch plan as a node: the plan is registered before it.
    assert plan < position[(ResourceType.WORKFLOW, f"{PREFIX}.workflows.ten_plus", False)]
    defaults = [s for s in steps if s.default_plan]
    assert {s.id.name for s in defaults} == {f"{PREFIX}.workflows.{w}"
                                             for w in ("failing", "pipeline", "ten_plus")}


def test_with_version_moves_every_reference_consistently() -> None:
    moved = with_version(steps_of(PACKAGE), "proj-a", "staging", "v7")
    by_id = {(s.kind, s.id.name): s for s in moved if not s.default_plan}
    for step in moved:
        ident = step.id
        assert (ident.project, ident.domain, ident.version) == ("proj-a", "staging", "v7")
        if step.kind is ResourceType.TASK:
            assert parse_task_spec(step.spec).to_dict() == step.spec
        elif step.kind is ResourceType.WORKFLOW:
            spec = parse_workflow_spec(step.spec)  # the server's own checks
            validate_workflow(spec)
            for used in spec.tasks.values():
                registered = by_id[(used.id.resource_type, used.id.name)]
                assert registered.id == used.id
                if used.id.resource_type is ResourceType.TASK:
                    # The workflow carries exactly the spec registered for that task.
                    assert registered.spec == used.to_dict()
        else:
            plan = parse_launch_plan_spec(step.spec)  # the server's own checks
            workflow = by_id[(ResourceType.WORKFLOW, plan.workflow_id.name)]
            assert plan.workflow_id == workflow.id
    # Nothing but the identifiers changed.
    originals = {(s.kind, s.id.name, s.default_plan): s for s in steps_of(PACKAGE)}
    for step in moved:
        before = originals[(step.kind, step.id.name, step.default_plan)]
        if step.kind is ResourceType.TASK:
            assert TaskSpec.from_dict(step.spec).interface == \
                TaskSpec.from_dict(before.spec).interface
        elif step.kind is ResourceType.WORKFLOW:
            after, was = WorkflowSpec.from_dict(step.spec), WorkflowSpec.from_dict(before.spec)
            assert (after.nodes, after.outputs, after.interface) == \
                (was.nodes, was.outputs, was.interface)


def test_content_version_follows_the_code_and_the_specs(tmp_path: Path) -> None:
    steps = steps_of(PACKAGE)
    (tmp_path / "a.py").write_text("A = 1\n")
    bundle = build_bundle(tmp_path)
    version = content_version(steps, bundle)
    assert version == content_version(steps_of(PACKAGE), build_bundle(tmp_path))
    (tmp_path / "a.py").write_text("A = 2\n")
    assert content_version(steps, build_bundle(tmp_path)) != version
    assert content_version(steps[1:], bundle) != version


def test_loading_errors_name_the_path_and_module(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file or directory"):
        load_package(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(LoadError, match=r"is not a Python file \(\.py\) or a directory"):
        load_package(tmp_path / "notes.txt")
    root = tmp_path / "root"
    (root / "brokenpkg_x1").mkdir(parents=True)
    (root / "brokenpkg_x1" / "__init__.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(LoadError, match=r"importing module 'brokenpkg_x1' .* RuntimeError: boom"):
        load_package(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoadError, match="holds no Python module or package"):
        load_package(tmp_path / "empty")


def test_two_entities_of_one_name_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "dupes_q7").mkdir(parents=True)
    (root / "dupes_q7" / "__init__.py").write_text("")
    body = ("from engine import task\n\n@task(name='same.name')\n"
            "def {0}(x: int) -> int:\n    return x + {1}\n")
    (root / "dupes_q7" / "one.py").write_text(body.format("one", 1))
    (root / "dupes_q7" / "two.py").write_text(body.format("two", 2))
    with pytest.raises(LoadError, match="two different tasks are named 'same.name'"):
        find_entities(load_package(root / "dupes_q7").modules)


TASK_MODULE = ("from engine import task\n\n@task\n"
               "def shout(s: str) -> str:\n    return s.upper()\n")
USER_MODULE = ("from engine import workflow\nfrom {0} import shout\n\n@workflow\n"
               "def loud(s: str) -> str:\n    return shout(s=s)\n")


def test_task_modules_outside_the_bundle_are_named(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "shouting_lib_k3.py").write_text(TASK_MODULE)
    monkeypatch.syspath_prepend(str(elsewhere))  # importable here, not in the bundle
    root = tmp_path / "src"
    (root / "loud_pkg_k3").mkdir(parents=True)
    (root / "loud_pkg_k3" / "__init__.py").write_text("")
    (root / "loud_pkg_k3" / "wf.py").write_text(USER_MODULE.format("shouting_lib_k3"))
    package = load_package(root / "loud_pkg_k3")
    steps = plan_registration(find_entities(package.modules))
    assert modules_outside(steps, build_bundle(package.root)) == ["shouting_lib_k3"]


def test_a_task_module_the_bundle_leaves_out_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "quiet_pkg_k4").mkdir(parents=True)
    (root / "quiet_pkg_k4" / "__init__.py").write_text("")
    (root / "quiet_pkg_k4" / "wf.py").write_text(USER_MODULE.format("quiet_pkg_k4.lib"))
    (root / "quiet_pkg_k4" / "lib.py").write_text(TASK_MODULE)
    (root / ".flyrayignore").write_text("quiet_pkg_k4/lib.py\n")
    package = load_package(root / "quiet_pkg_k4")
    steps = plan_registration(find_entities(package.modules))
    with pytest.raises(LoadError, match=r"task 'quiet_pkg_k4\.lib\.shout' is defined in .*"
                                        r"lib\.py, which the code bundle leaves out"):
        modules_outside(steps, build_bundle(package.root))
