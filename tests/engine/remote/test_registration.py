"""FlyteRemote registers local code (bundled as ``flyray register`` bundles it) and fetches
and lists what the admin API holds: latest versions, typed interfaces, filters,
launch plan activation, console URLs."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.admin_client import AdminRequestError
from engine.dag.spec import ResourceType
from engine.errors import EntityNotFoundError, InputValueError
from engine.exceptions.user import FlyteEntityNotExistException
from engine.remote import (
    FlyteLaunchPlan,
    FlyteRemote,
    FlyteTask,
    FlyteWorkflow,
    RegistrationError,
)
from engine.types.literal import Kind
from tests.engine.remote.conftest import Admin, Package


def test_register_package_registers_everything_under_one_version(
        remote: FlyteRemote, package: Package) -> None:
    registration = remote.register_package(str(package.root / package.name), version="pkg1")
    names = {(o.step.kind, o.step.id.name) for o in registration.outcomes}
    wf = f"{package.name}.workflows"
    assert (ResourceType.LAUNCH_PLAN, f"{wf}.plus_ten") in names
    assert (ResourceType.TASK, f"{package.name}.tasks.make_frame") in names
    assert {o.step.id.version for o in registration.outcomes} == {"pkg1"}
    assert registration.code_uri.startswith(remote.config.data_config.blob_root)
    again = remote.register_package(str(package.root / package.name), version="pkg1")
    assert {o.status for o in again.outcomes} == {"unchanged"}


def test_fetch_gives_the_latest_version_with_its_typed_interface(
        remote: FlyteRemote, package: Package) -> None:
    name = f"{package.name}.workflows.frames"
    first = remote.register_workflow(package.workflows.frames, version="v1")
    assert isinstance(first, FlyteWorkflow) and first.id.version == "v1"
    latest = remote.register_workflow(package.workflows.frames, version="v2")
    fetched = remote.fetch_workflow(name=name)
    assert fetched.id == latest.id and fetched.version == "v2"
    assert remote.fetch_workflow(name=name, version="v1").id == first.id
    iface = fetched.python_interface
    assert iface.inputs == {"n": int} and iface.defaults == {"n": 3}
    assert iface.outputs == {"o0": pd.DataFrame, "o1": int}
    assert [v.type.kind for v in fetched.interface.outputs] == [Kind.DATAFRAME, Kind.SIMPLE]
    assert {t.name for t in fetched.flyte_tasks} == {f"{package.name}.tasks.make_frame",
                                                    f"{package.name}.tasks.total"}
    assert fetched.closure.code_uri and fetched.closure.created_at is not None

    task = remote.fetch_task(name=f"{package.name}.tasks.total", version="v2")
    assert isinstance(task, FlyteTask) and task.python_interface.inputs == {"df": pd.DataFrame}
    # The workflow's default launch plan was registered with it.
    plan = remote.fetch_launch_plan(name=name)
    assert plan.version == "v2" and plan.flyte_workflow.id == fetched.id


def test_a_launch_plan_interface_leaves_out_its_fixed_inputs(
        remote: FlyteRemote, package: Package) -> None:
    registered = remote.register_launch_plan(package.workflows.plus_ten, version="lp1")
    assert isinstance(registered, FlyteLaunchPlan)
    plan = remote.fetch_launch_plan(name=package.workflows.plus_ten.name)
    assert plan.fixed_inputs == {"b": 10}
    assert plan.python_interface.inputs == {"a": int}
    assert plan.workflow_id.name == f"{package.name}.workflows.plus"
    assert not plan.is_active and not plan.is_scheduled

    active = remote.activate_launchplan(plan.id)
    assert active.is_active and active.id == plan.id
    assert remote.fetch_launch_plan(name=plan.name, version="lp1").is_active
    assert not remote.deactivate_launchplan(plan.name).is_active  # a name: its latest


def test_listing_filters_by_name(remote: FlyteRemote, package: Package) -> None:
    remote.register_task(package.tasks.add, version="list1")
    remote.register_task(package.tasks.add, version="list2")
    add = f"{package.name}.tasks.add"
    versions = [t.version for t in remote.list_tasks(name=add)]
    assert versions[:2] == ["list2", "list1"]  # newest first
    assert [t.version for t in remote.list_tasks(name=add, limit=1)] == ["list2"]
    assert {t.name for t in remote.list_tasks(name_contains=package.name)} >= {add}
    assert remote.list_tasks(name="no.such.task") == []
    assert {w.name for w in remote.list_workflows(name_contains=package.name)} >= {
        f"{package.name}.workflows.frames"}
    assert all(isinstance(p, FlyteLaunchPlan)
               for p in remote.list_launch_plans(name_contains=package.name))
    with pytest.raises(InputValueError, match="phase 'DONE' is not one of ABORTED, FAILED"):
        remote.recent_executions(phase="DONE")


def test_registering_the_same_code_again_changes_nothing(
        remote: FlyteRemote, package: Package) -> None:
    first = remote.register_script(package.workflows.failing)
    second = remote.register_script(package.workflows.failing)
    assert first.id == second.id  # the default version: a hash of the code and specs


def test_what_is_not_registered_is_not_found(remote: FlyteRemote) -> None:
    with pytest.raises(EntityNotFoundError, match="task 'no.such.task' is not registered in "
                       "flytesnacks/development"):
        remote.fetch_task(name="no.such.task")
    with pytest.raises(FlyteEntityNotExistException, match="does not exist"):
        remote.fetch_workflow(name="no.such.workflow", version="v1")
    with pytest.raises(EntityNotFoundError, match="execution flytesnacks/development/nope"):
        remote.fetch_execution(name="nope")


def test_wrong_kinds_are_refused(remote: FlyteRemote, package: Package) -> None:
    with pytest.raises(InputValueError, match="register_task takes a local task"):
        remote.register_task(package.workflows.plus)
    with pytest.raises(InputValueError, match="execute takes a fetched or local task"):
        remote.execute(print, {})


def test_a_refusal_carries_the_servers_message(remote: FlyteRemote, package: Package) -> None:
    with pytest.raises(RegistrationError) as refused:
        remote.register_task(package.tasks.add, project="nope")
    assert refused.value.cause.status == 400
    assert (f"the admin API refused task '{package.name}.tasks.add' at version "
            f"{refused.value.refused.id.version} (400 INVALID_ARGUMENT): project 'nope' does "
            "not exist") in str(refused.value)
    with pytest.raises(AdminRequestError, match="400 INVALID_ARGUMENT: .*name"):
        remote.execute(remote.register_task(package.tasks.add, version="bad1"), {"a": 1, "b": 2},
                       execution_name="not a valid name!")


def test_console_urls(remote: FlyteRemote, admin: Admin, package: Package) -> None:
    task = remote.register_task(package.tasks.add, version="url1")
    assert remote.generate_console_url(task) == (
        f"{admin.endpoint}/console/projects/flytesnacks/domains/development/task/"
        f"{package.name}.tasks.add/version/url1")
