"""PythonTask subclasses, Interface and TaskMetadata, as flytekit's docs use them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Optional

import pytest

from engine import workflow
from engine.core.base_sql_task import SQLTask
from engine.core.base_task import TaskMetadata
from engine.errors import ConfigError, InterfaceError, NodeFailedError, NotYetSupportedError
from engine.extend import Interface, PythonTask
from engine.testing import patch, task_mock
from engine.types.interface import kwtypes
from tests.fixtures import python_task_wfs as wfs


@pytest.mark.usefixtures("ray_cluster")
def test_class_tasks_run_as_nodes_beside_function_tasks() -> None:
    assert wfs.powers(x=2) == (4, 12)


@pytest.mark.usefixtures("ray_cluster")
def test_execute_runs_in_a_ray_worker() -> None:
    assert wfs.where(x=3) != os.getpid()


@pytest.mark.usefixtures("ray_cluster")
def test_task_metadata_retries_and_input_defaults_apply(tmp_path: Path) -> None:
    assert wfs.retried(marker=str(tmp_path / "marker")) == 5


def test_a_direct_call_runs_execute_in_process() -> None:
    result = wfs.square(x=4)
    assert result.o0 == 16 and result.pid == os.getpid()


def test_the_spec_records_metadata_and_where_the_task_lives() -> None:
    spec = wfs.cube.spec()
    assert spec.metadata.retries == 1
    assert (spec.module, spec.attribute) == ("tests.fixtures.python_task_wfs", "cube")
    assert [v.name for v in spec.interface.outputs] == ["o0", "pid"]


def test_the_config_is_part_of_the_version() -> None:
    def version(exponent: int) -> str:
        power = wfs.Power(name="power", config=wfs.PowerConfig(exponent=exponent))
        return power.spec().id.version

    assert version(2) == version(2) != version(3)


@pytest.mark.usefixtures("ray_cluster")
def test_task_mock_and_patch_replace_a_class_task() -> None:
    with task_mock(wfs.square) as m:
        m.return_value = (100, 0)
        assert wfs.powers(x=2) == (100, 108)
    m.assert_called_once_with(x=2)

    @patch(wfs.cube)
    def check(mock: Any) -> None:
        mock.return_value = (1, 0)
        assert wfs.cube(x=9) == (1, 0)

    check()


def test_interface_reads_defaults_as_flytekit() -> None:
    iface = Interface(inputs={"a": int, "b": (str, "x"), "c": Optional[float],
                              "d": (int, None)}, outputs={"o": int})
    assert iface.default_inputs_as_kwargs == {"b": "x"}
    python = iface.to_python_interface()
    assert python.defaults == {"b": "x", "c": None}  # an Optional input defaults to None
    assert Interface(outputs={"a": int, "b": str}, output_tuple_name="Pair").output_tuple \
        .__name__ == "Pair"


def test_task_metadata_checks_as_flytekit() -> None:
    assert TaskMetadata(timeout=30).timeout == dt.timedelta(seconds=30)
    with pytest.raises(ConfigError, match="cache_version"):
        TaskMetadata(cache=True)
    with pytest.raises(ConfigError, match="needs cache=True"):
        TaskMetadata(cache_serialize=True)
    with pytest.raises(ConfigError, match="timeout"):
        TaskMetadata(timeout="1h")  # type: ignore[arg-type]


def test_clear_errors_for_a_bad_class_task() -> None:
    class NoExecute(PythonTask[None]):
        pass

    with pytest.raises(NotImplementedError, match="override execute"):
        NoExecute(task_type="x", name="no_execute")()
    with pytest.raises(TypeError, match="unexpected option"):
        PythonTask(task_type="x", name="t", colour="red")
    with pytest.raises(NotYetSupportedError, match="enable_deck"):
        PythonTask(task_type="x", name="t", enable_deck=True)
    with pytest.raises(ConfigError, match="Interface"):
        PythonTask(task_type="x", name="t", interface={"x": int})  # type: ignore[arg-type]

    class WrongOutput(PythonTask[None]):
        def execute(self, **kwargs: Any) -> Any:
            return "text"

    bad = WrongOutput(task_type="x", name="wrong", interface=Interface(outputs={"o0": int}))
    with pytest.raises(InterfaceError, match="bad value for output 'o0'"):
        bad()


@pytest.mark.usefixtures("ray_cluster")
def test_a_failing_execute_is_a_user_error_of_its_node() -> None:
    class Boom(PythonTask[None]):
        def execute(self, **kwargs: Any) -> int:
            raise ValueError("boom in execute")

    boom = Boom(task_type="boom", name="boom", interface=Interface(inputs={"x": int},
                                                                    outputs={"o0": int}))

    @workflow
    def wf(x: int) -> int:
        return boom(x=x)

    with pytest.raises(NodeFailedError) as info:
        wf(x=1)
    assert info.value.kind.value == "USER" and "boom in execute" in str(info.value)


# --- SQLTask -----------------------------------------------------------------------------

sql = SQLTask(
    "count_rows",
    query_template="""select count(*) from {{ .inputs.table }}
                      where day = '{{.inputs.day}}'""",
    inputs=kwtypes(table=str, day=str),
    outputs=kwtypes(n=int),
)


def test_sql_task_renders_its_query_template() -> None:
    assert sql.query_template == ("select count(*) from {{ .inputs.table }} where day = "
                                  "'{{.inputs.day}}'")
    assert sql.get_query(table="events", day="2024-01-01") == \
        "select count(*) from events where day = '2024-01-01'"
    with pytest.raises(ValueError, match="'day'"):
        sql.get_query(table="events")
    with pytest.raises(ValueError, match="no match"):
        sql.get_query(table="events", day="d", extra=1)
    with pytest.raises(ConfigError, match="no such input"):
        SQLTask("bad", query_template="select {{ .inputs.nope }}", inputs=kwtypes(x=int))


@pytest.mark.usefixtures("ray_cluster")
def test_a_sql_task_cannot_run_natively_but_can_be_mocked_in_a_workflow() -> None:
    @workflow
    def wf(day: str) -> int:
        return sql(table="events", day=day)

    with pytest.raises(NotYetSupportedError, match="task_mock"):
        sql(table="t", day="d")
    with task_mock(sql) as m:
        m.return_value = 42
        assert wf(day="2024-01-01") == 42
    m.assert_called_once_with(table="events", day="2024-01-01")
