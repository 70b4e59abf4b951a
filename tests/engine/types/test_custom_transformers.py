"""A TypeTransformer written flytekit's way, against the literal model (flytekit's documented
``MyDataset`` example, imports switched): type-checked at compile time, its raw data stored
in the blob store, read back by each task and by the caller, cached by its literal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from engine import task, workflow
from engine.catalog.keys import cache_key
from engine.config import load_settings
from engine.dag.run.executor import ExecutionResult, run
from engine.errors import BindingError
from engine.models.core.types import BlobType
from engine.models.literals import Blob, BlobMetadata, Literal, Scalar
from engine.types.literal import Kind
from engine.types.model_transformer import LiteralValue
from engine.types.type_engine import TypeEngine
from tests.fixtures import custom_type_wfs as wfs

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.timeout(120)]


def execute(wf: Any, **inputs: Any) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs))


def test_the_documented_example_runs_as_in_flytekit() -> None:
    assert wfs.wf() == "Contents of file0\nContents of file1\nContents of file2\n"


def test_a_workflow_returns_the_users_type_read_back_from_the_blob_store() -> None:
    result = execute(wfs.generated)

    dataset = result.outputs
    assert isinstance(dataset, wfs.MyDataset)
    assert sorted(Path(f).read_text() for f in dataset.files) == [
        f"Contents of file{i}" for i in range(3)]
    # What left the producing task is the literal, its directory under the attempt's prefix.
    [node_id] = list(result.record.nodes)
    root = load_settings().blob_root_uri
    uploaded = Path(root.removeprefix("file://")) / "raw" / result.record.name / node_id / "0"
    assert sorted(p.name for p in uploaded.rglob("x*")) == ["x0", "x1", "x2"]


def test_the_literal_type_is_the_transformers_blob_type() -> None:
    literal_type = TypeEngine.to_literal_type(wfs.MyDataset)
    assert (literal_type.kind, literal_type.format, literal_type.multipart) == (
        Kind.BLOB, "binary", True)
    assert str(literal_type) == "MyDataset[binary]"


def test_a_value_of_the_type_given_as_input_is_uploaded_and_read_back(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_text(name)
    assert execute(wfs.counted, d=wfs.MyDataset(str(tmp_path))).outputs == 2


def test_binding_it_to_another_type_fails_at_compile_time() -> None:
    @workflow
    def into_int() -> int:
        return wfs.double(n=wfs.generate())

    with pytest.raises(BindingError) as info:
        into_int.compile()
    assert "expected int, got MyDataset[binary]" in str(info.value)

    @task
    def wants_text(t: wfs.Text) -> str:
        return t.text

    @workflow
    def dataset_into_text() -> str:
        return wants_text(t=wfs.generate())

    with pytest.raises(BindingError) as info:
        dataset_into_text.compile()
    assert "expected Text[txt], got MyDataset[binary]" in str(info.value)


def test_a_value_the_type_does_not_accept_is_refused_with_the_transformers_reason() -> None:
    reason = TypeEngine.check(42, wfs.MyDataset)
    assert reason is not None and "MyDataset" in reason and "int" in reason


def test_a_task_with_the_type_is_cached_by_the_literals_hash() -> None:
    first = execute(wfs.shouted, t=wfs.Text("hello"))
    again = execute(wfs.shouted, t=wfs.Text("hello"))
    other = execute(wfs.shouted, t=wfs.Text("bye"))

    assert [r.outputs.text for r in (first, again, other)] == ["HELLO!", "HELLO!", "BYE!"]
    statuses = [next(iter(r.record.nodes.values())).cache_status for r in (first, again, other)]
    assert statuses == ["MISS", "HIT", "MISS"]


def test_without_a_hash_the_cache_key_is_the_literal_itself() -> None:
    def literal(uri: str) -> LiteralValue:
        meta = BlobMetadata(type=BlobType("binary", BlobType.BlobDimensionality.MULTIPART))
        return LiteralValue(Literal(scalar=Scalar(blob=Blob(metadata=meta, uri=uri))),
                            wfs.MyDataset)

    def tag(value: LiteralValue) -> str:
        return cache_key(wfs.count_files.spec(), {"d": value}, {"d": wfs.MyDataset}).tag

    assert tag(literal("file:///data/a")) == tag(literal("file:///data/a"))
    assert tag(literal("file:///data/a")) != tag(literal("file:///data/b"))


def test_a_constant_of_a_stored_type_is_refused_with_guidance(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "d")

    @workflow
    def constant() -> int:
        return wfs.count_files(d=wfs.MyDataset(str(tmp_path / "d")))

    with pytest.raises(Exception, match="pass it as an input at run time"):
        constant.compile()
