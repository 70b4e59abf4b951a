"""ShellTask: templated bash scripts with file inputs and outputs."""

from __future__ import annotations

import pytest

from engine.errors import NodeFailedError
from tests.fixtures import shell_wfs as wfs


@pytest.mark.usefixtures("ray_cluster")
def test_a_script_reads_an_input_file_and_writes_an_output_file() -> None:
    assert wfs.count(n=7) == "7\ndone\n"


@pytest.mark.usefixtures("ray_cluster")
def test_a_non_zero_exit_is_a_user_error_with_stderr() -> None:
    with pytest.raises(NodeFailedError) as info:
        wfs.fails()
    message = str(info.value)
    assert info.value.kind.value == "USER"
    assert "exited with status 3" in message and "about to fail" in message


def test_the_script_is_part_of_the_task_version() -> None:
    spec = wfs.count_lines.spec()
    assert [v.name for v in spec.interface.inputs] == ["f", "label"]
    assert str(spec.interface.outputs[0].type) == "FlyteFile"


@pytest.mark.usefixtures("ray_cluster")
def test_a_relative_output_location_is_in_the_scripts_working_directory() -> None:
    assert wfs.relative(word="hello") == "hello\n"
