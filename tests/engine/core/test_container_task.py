"""ContainerTask: its spec, its checks, its data layout, and how it fails without a runtime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import ContainerTask, Resources, kwtypes
from engine.dag.run.container import RUNTIME_ENV, container_argv, find_runtime
from engine.dag.run.container_io import (
    parse_value,
    read_outputs,
    render_command,
    render_value,
    write_inputs,
)
from engine.dag.spec import ContainerSpec, ResourceSpec, TaskSpec
from engine.dag.spec.task import SecretRequest
from engine.dag.validate import load_workflow
from engine.errors import (
    BindingError,
    ConfigError,
    ContainerRuntimeError,
    DataError,
    ErrorKind,
    InterfaceError,
    NodeFailedError,
    NotYetSupportedError,
)
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from tests.fixtures import basic_wfs, container_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")

LAYOUT = ContainerSpec(command=("sh", "-c"), input_data_dir="/var/inputs",
                       output_data_dir="/var/outputs")


def container(**options: Any) -> ContainerTask:
    """A small valid task, with ``options`` replacing or adding to its arguments."""
    kwargs: dict[str, Any] = {
        "name": "t", "image": "busybox", "command": ["echo", "{{.inputs.x}}"],
        "inputs": kwtypes(x=int), "outputs": kwtypes(y=int), **options,
    }
    return ContainerTask(**kwargs)


# --- the spec ---------------------------------------------------------------------------


def test_the_spec_records_the_image_the_command_and_the_options() -> None:
    spec = container_wfs.ellipse_area.spec()

    assert spec.metadata.container_image == "ghcr.io/flyteorg/rawcontainers-shell:v2"
    assert spec.container == ContainerSpec(
        command=("./calculate-ellipse-area.sh", "{{.inputs.a}}", "{{.inputs.b}}",
                 "/var/outputs"),
        arguments=(), input_data_dir="/var/inputs", output_data_dir="/var/outputs",
        metadata_format="JSON",
    )
    assert [v.name for v in spec.interface.inputs] == ["a", "b"]
    assert [(v.name, str(v.type)) for v in spec.interface.outputs] == [
        ("area", "float"), ("metadata", "str")]
    meta = spec.metadata
    assert (meta.requests, meta.limits) == (ResourceSpec(cpu=0.5, mem=64 << 20),
                                            ResourceSpec(cpu=1.0, mem=256 << 20))
    assert (meta.retries, meta.timeout_s, meta.cache, meta.cache_version) == (1, 120.0, True,
                                                                              "1.0")
    assert meta.environment == (("MODE", "exact"),)
    assert meta.secrets == (SecretRequest("db", "password"),)


def test_the_task_spec_round_trips_through_json() -> None:
    spec = container_wfs.count_words.spec()

    data = json.loads(json.dumps(spec.to_dict()))

    assert data["container"]["arguments"] == ["wc -w < {{.inputs.doc}} > /var/outputs/words"]
    assert TaskSpec.from_dict(data) == spec


def test_a_workflow_with_a_container_task_round_trips_and_is_a_fixed_point() -> None:
    spec = container_wfs.area_wf.compile().spec
    text = spec.to_json()

    loaded = load_workflow(text)

    assert loaded == spec
    assert loaded.tasks["ellipse_area"].container == container_wfs.ellipse_area.container
    assert loaded.to_json() == text


def test_a_python_task_spec_has_no_container_entry() -> None:
    data = basic_wfs.chain.compile().spec.to_dict()

    assert all("container" not in t for t in data["tasks"].values())


def test_the_version_changes_with_the_command_and_the_image() -> None:
    base = container().spec().id.version

    assert container(command=["echo", "{{.inputs.x}}", "!"]).spec().id.version != base
    assert container(image="alpine").spec().id.version != base
    assert container().spec().id.version == base


def test_a_wrongly_typed_input_fails_at_compile_time() -> None:
    with pytest.raises(BindingError) as info:
        container_wfs.str_into_float.compile()

    message = str(info.value)
    assert "task 'ellipse_area'" in message and "input 'a'" in message
    assert "expected float, got str" in message


# --- checks when the task is declared ---------------------------------------------------


@pytest.mark.parametrize(("options", "error", "fragment"), [
    ({"command": ["echo", "{{.inputs.z}}"]}, ConfigError,
     "uses input 'z', which the task does not declare"),
    ({"command": ["echo", "{{.outputs.y}}"]}, ConfigError,
     "writes output 'y' to the file /var/outputs/y"),
    ({"arguments": ["--out={{ .OutputPrefix }}"]}, ConfigError,
     "a Flyte template Flyray cannot fill"),
    ({"inputs": kwtypes(x=list[int])}, InterfaceError,
     "input 'x' has type list[int]"),
    ({"outputs": kwtypes(y=dict)}, InterfaceError, "output 'y' has type dict"),
    ({"image": ""}, ConfigError, "image must be an image reference"),
    ({"command": ["echo", 3]}, ConfigError, "lists of strings"),
    ({"input_data_dir": "inputs"}, ConfigError, "input_data_dir must be an absolute path"),
    ({"metadata_format": "PROTO"}, NotYetSupportedError, "metadata_format PROTO"),
    ({"metadata_format": "XML"}, ConfigError, "must be 'JSON' or 'YAML'"),
    ({"cache": True}, ConfigError, "cache=True needs a cache_version"),
    ({"retries": -1}, ConfigError, "retries must be a whole number"),
    ({"timeout": 0}, ConfigError, "timeout must be positive"),
    ({"limits": Resources(gpu="1")}, NotYetSupportedError, "GPUs for a container"),
    ({"pod_template": object()}, NotYetSupportedError, "pod_template"),
    ({"colour": "blue"}, TypeError, "unexpected option(s) colour"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_a_bad_declaration_is_refused_naming_the_task(
        options: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        container(**options)

    assert fragment in str(info.value)
    assert error is TypeError or "ContainerTask 't'" in str(info.value)


def test_flytekit_options_without_meaning_on_ray_are_accepted() -> None:
    task = container(io_strategy=ContainerTask.IOStrategy.DOWNLOAD_EAGER, interruptible=True,
                     metadata_format=ContainerTask.MetadataFormat.YAML,
                     input_data_dir=None, output_data_dir="/out/")

    assert task.container.metadata_format == "YAML"
    assert task.spec().metadata.interruptible is True
    assert (task.container.input_data_dir, task.container.output_data_dir) == (
        "/var/inputs", "/out")


# --- templating, inputs and outputs -----------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (True, "true"), (False, "false"), (-3, "-3"), (2.0, "2"), (0.1, "0.1"), (2.5, "2.5"),
    (1e20, "100000000000000000000"), (1e-7, "0.0000001"), (float("nan"), "NaN"),
    (float("-inf"), "-Inf"), ("a b", "a b"),
])
def test_values_are_rendered_as_flyte_renders_them(value: Any, text: str) -> None:
    assert render_value(value) == text


def test_input_templates_are_replaced_in_every_form_flyte_accepts() -> None:
    parts = ["calc", "{{.inputs.a}}", "--b={{ .Inputs.b }}", "{{$inputs.a}}x{{.inputs.b}}",
             "{{.unknown}} stays"]

    rendered = render_command(parts, {"a": "1.5", "b": "/var/inputs/b"}, "ContainerTask 't'")

    assert rendered == ["calc", "1.5", "--b=/var/inputs/b", "1.5x/var/inputs/b",
                        "{{.unknown}} stays"]
    with pytest.raises(ConfigError, match=r"\{\{.inputs.c\}\} names no input; inputs are"):
        render_command(["{{.inputs.c}}"], {"a": "1"}, "ContainerTask 't'")


def test_inputs_are_written_one_file_each_and_files_are_copied_in(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "part").write_text("p")
    (tmp_path / "doc.txt").write_text("one two three")
    target = tmp_path / "inputs"
    target.mkdir()

    rendered = write_inputs(target, {
        "n": 3, "ratio": 0.5, "flag": True, "label": "hi there",
        "doc": FlyteFile(str(tmp_path / "doc.txt")), "tree": FlyteDirectory(str(source)),
    }, LAYOUT)

    assert rendered == {"n": "3", "ratio": "0.5", "flag": "true", "label": "hi there",
                        "doc": "/var/inputs/doc", "tree": "/var/inputs/tree"}
    assert {p.name: p.read_text() for p in target.iterdir() if p.is_file()} == {
        "n": "3", "ratio": "0.5", "flag": "true", "label": "hi there",
        "doc": "one two three", "inputs.json": json.dumps({
            "n": 3, "ratio": 0.5, "flag": True, "label": "hi there",
            "doc": "/var/inputs/doc", "tree": "/var/inputs/tree"}),
    }
    assert (target / "tree" / "sub" / "part").read_text() == "p"
    command = render_command(list(container_wfs.count_words.container.arguments),
                             rendered, "ContainerTask 'count_words'")
    assert command == ["wc -w < /var/inputs/doc > /var/outputs/words"]


def test_the_inputs_file_is_yaml_when_asked(tmp_path: Path) -> None:
    layout = ContainerSpec(command=(), metadata_format="YAML")

    write_inputs(tmp_path, {"n": 3, "s": "x"}, layout)

    assert yaml.safe_load((tmp_path / "inputs.yaml").read_text()) == {"n": 3, "s": "x"}
    assert not (tmp_path / "inputs.json").exists()


def test_outputs_are_parsed_from_their_files(tmp_path: Path) -> None:
    (tmp_path / "count").write_text("42\n")
    (tmp_path / "mean").write_text(" 2.5\t\n")
    (tmp_path / "ok").write_text("True\n")
    (tmp_path / "name").write_text("  area of ellipse\n")
    (tmp_path / "report").write_text("r")
    (tmp_path / "shards").mkdir()
    outputs = {"count": int, "mean": float, "ok": bool, "name": str, "report": FlyteFile,
               "shards": FlyteDirectory}

    values = read_outputs(tmp_path, outputs, LAYOUT, "ContainerTask 't'")

    assert values[:4] == [42, 2.5, True, "area of ellipse"]
    assert isinstance(values[4], FlyteFile) and values[4].path == str(tmp_path / "report")
    assert isinstance(values[5], FlyteDirectory) and values[5].path == str(tmp_path / "shards")


def test_a_missing_or_unparsable_output_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_outputs(tmp_path, {"area": float}, LAYOUT, "ContainerTask 't'")
    assert "output 'area' (/var/outputs/area): the command wrote no file there" in str(
        info.value)
    (tmp_path / "shards").write_text("not a directory")
    with pytest.raises(DataError, match="wrote no directory there"):
        read_outputs(tmp_path, {"shards": FlyteDirectory}, LAYOUT, "ContainerTask 't'")
    for text, python_type in (("4.5", int), ("yes", bool), ("many", float)):
        with pytest.raises(DataError, match=f"'{text}' is not a {python_type.__name__}"):
            parse_value(text, python_type, "output 'v'")


def test_the_runtime_command_line_mounts_the_data_and_keeps_secret_values_out() -> None:
    argv = container_argv(
        "/usr/bin/podman", "flyray-x", "busybox", ["sh", "-c", "echo hi"], 2,
        Path("/tmp/a/inputs"), Path("/tmp/a/outputs"), LAYOUT, {"MODE": "exact"},
        ["_FSEC_DB_PASSWORD"], ResourceSpec(cpu=1.5, mem=256 << 20),
    )

    assert argv == [
        "/usr/bin/podman", "run", "--rm", "--name", "flyray-x",
        "-v", "/tmp/a/inputs:/var/inputs", "-v", "/tmp/a/outputs:/var/outputs",
        "-e", "MODE=exact", "-e", "_FSEC_DB_PASSWORD", "--cpus=1.5",
        f"--memory={256 << 20}b", "--entrypoint=sh", "busybox", "-c", "echo hi",
    ]
    no_entrypoint = container_argv("docker", "n", "img", ["--flag"], 0, Path("/i"),
                                   Path("/o"), LAYOUT, {}, [], ResourceSpec())
    assert no_entrypoint[-2:] == ["img", "--flag"] and "--entrypoint" not in str(no_entrypoint)


# --- finding the container runtime ------------------------------------------------------


def test_no_runtime_on_path_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ContainerRuntimeError) as info:
        find_runtime({"PATH": str(tmp_path)}, "count_words")

    message = str(info.value)
    assert "ContainerTask 'count_words' needs a container runtime" in message
    assert "podman: not found on PATH; docker: not found on PATH" in message
    assert "Install podman" in message and RUNTIME_ENV in message
    assert isinstance(info.value, ConfigError)


def test_a_runtime_named_by_the_variable_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ContainerRuntimeError) as info:
        find_runtime({"PATH": str(tmp_path), RUNTIME_ENV: container_wfs.MISSING_RUNTIME}, "t")

    assert (f"ContainerTask 't': {RUNTIME_ENV} is '{container_wfs.MISSING_RUNTIME}', but Ray "
            "node") in str(info.value)
    assert "has no such executable" in str(info.value)


def test_a_program_that_cannot_run_containers_is_refused_with_its_answer() -> None:
    false = shutil.which("false")
    assert false is not None

    with pytest.raises(ContainerRuntimeError) as info:
        find_runtime({"PATH": str(Path(false).parent), RUNTIME_ENV: "false"}, "t")

    assert f"({false}), which cannot run containers" in str(info.value)
    assert "'false info' exited with status 1" in str(info.value)


def test_a_call_outside_a_workflow_looks_for_the_runtime_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ENV, container_wfs.MISSING_RUNTIME)

    with pytest.raises(ContainerRuntimeError, match="ContainerTask 'ellipse_area'"):
        container_wfs.ellipse_area(a=1.0, b=2.0)


def test_a_workflow_on_a_node_without_runtime_fails_naming_the_task() -> None:
    with pytest.raises(NodeFailedError) as info:
        container_wfs.hidden_runtimes(text="one two three")

    error = info.value
    assert (error.task, error.node_id, error.attempts) == ("count_words", "n1", 1)
    assert error.kind is ErrorKind.SYSTEM  # the cluster lacks a runtime: not the task's fault
    assert "ContainerRuntimeError: ContainerTask 'count_words' needs a container runtime" in \
        error.cause
    assert "podman: not found on PATH; docker: not found on PATH" in error.cause
    assert "Install podman" in error.cause


def test_a_workflow_whose_named_runtime_is_missing_fails_naming_it() -> None:
    with pytest.raises(NodeFailedError) as info:
        container_wfs.named_runtime(n=2)

    assert info.value.task == "list_dir"
    assert (f"{RUNTIME_ENV} is '{container_wfs.MISSING_RUNTIME}', but Ray node"
            in info.value.cause)
