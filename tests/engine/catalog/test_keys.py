"""Cache keys are a stored contract: the keys of known values are pinned, so that a change
to how values are hashed cannot silently make every existing catalog miss.

The pinned tags were computed by the key code as it stood before each type's transformer
hashed its own values; a test that fails here means existing catalogs would stop hitting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import pandas as pd
import pyarrow as pa
import pytest

from engine import HashMethod
from engine.catalog.keys import cache_key, dataset_version
from engine.extend import TypeEngine, TypeTransformer
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from engine.types.structured import StructuredDataset
from tests.fixtures import cached_wfs


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    label: str


def _file(tmp: Path) -> FlyteFile:
    path = tmp / "in.txt"
    path.write_bytes(b"hello flyray\n")
    return FlyteFile(str(path))


def _directory(tmp: Path) -> FlyteDirectory:
    (tmp / "d" / "sub").mkdir(parents=True)
    (tmp / "d" / "a.txt").write_bytes(b"a")
    (tmp / "d" / "sub" / "b.txt").write_bytes(b"bb")
    return FlyteDirectory(str(tmp / "d"))


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2, 3], "s": ["x", "y", "z"]})


# (python type, a function of a scratch directory giving the value, pinned tag), by name
CASES: dict[str, tuple[Any, Callable[[Path], Any], str]] = {
    "int": (
        int, lambda _: 5,
        "56eadc9ece34d52f780c3a57e67aca07",
    ),
    "str": (
        str, lambda _: "hello",
        "ca73e75a3aaf67b15791701aa18f3548",
    ),
    "float": (
        float, lambda _: 2.5,
        "88e4fc2d69597f41b59f2a97d4a061e6",
    ),
    "bool": (
        bool, lambda _: True,
        "5c34e725f06e2db234a3ee4d16ad3a87",
    ),
    "bytes": (
        bytes, lambda _: b"\x00\x01",
        "fbb14058a198f8b922a565e2ce95764a",
    ),
    "datetime": (
        dt.datetime, lambda _: dt.datetime(2024, 5, 1, 12, 30),
        "1be6aa94d6fbd9a10e67d8d6657f4758",
    ),
    "enum": (
        Color, lambda _: Color.BLUE,
        "c39d7b3fdd2c3859da17d38ffe274f8c",
    ),
    "dataclass": (
        Point, lambda _: Point(3, "p"),
        "1971f388b44f24c8422ffca73bc6827c",
    ),
    "list of dicts": (
        list[dict[str, int]], lambda _: [{"b": 2, "a": 1}, {"c": 3}],
        "5a5d3e8c8c4c03d4f6757c8f1d5b41ca",
    ),
    "none": (
        Optional[int], lambda _: None,
        "385b7e9328694d0f505b74aeba1bc0b2",
    ),
    "optional int": (
        Optional[int], lambda _: 3,
        "e59cbf5a3dda844cc2d0580fc92ee254",
    ),
    "union (tagged)": (
        Union[int, str], lambda _: 3,
        "7212dba04f81cd632e437094fdf7d194",
    ),
    "file": (
        FlyteFile, _file,
        "459af95a17e27dfcfb91989a160cf0a0",
    ),
    "file as a path": (
        FlyteFile, lambda _: "/data/in.csv",
        "9b7293e3c1287e34a375bc592bd64ad8",
    ),
    "optional file": (
        Optional[FlyteFile], _file,
        "459af95a17e27dfcfb91989a160cf0a0",
    ),
    "dict of files": (
        dict[str, FlyteFile], lambda tmp: {"f": _file(tmp)},
        "7bf21cf23dbf6de3f86759e9e8ec9bf2",
    ),
    "directory": (
        FlyteDirectory, _directory,
        "94a88f4e554f0186c54fe1ef0e307502",
    ),
    "pandas frame": (
        pd.DataFrame, lambda _: _frame(),
        "6ca1137586dcccb1726067144e5a71d0",
    ),
    "arrow table": (
        pa.Table, lambda _: pa.Table.from_pandas(_frame()),
        "6ca1137586dcccb1726067144e5a71d0",
    ),
    "dataset": (
        StructuredDataset, lambda _: StructuredDataset(_frame()),
        "6ca1137586dcccb1726067144e5a71d0",
    ),
    "stored dataset": (
        StructuredDataset, lambda _: StructuredDataset(uri="file:///data/frame.parquet"),
        "b7c1fc4a4b5cc87fda840b37fcaf1719",
    ),
    "hash method": (
        Annotated[int, HashMethod(lambda x: x % 10)], lambda _: 15,
        "d57140882d02f53f86db33835bfeddfd",
    ),
    "list with hash method": (
        list[Annotated[int, HashMethod(lambda x: x % 10)]], lambda _: [15, 7],
        "69cbe0929422865c3e42c0930a2c2cc8",
    ),
    "opaque (pickled)": (
        tuple[int, str], lambda _: (1, "a"),
        "2ef1d35a52e479f11cd634eadffe7b17",
    ),
    "list under Any": (
        Any, lambda _: [1, "a"],
        "c0f640775a950b66e1c116608780cbf4",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_the_cache_key_of_a_known_value_does_not_change(name: str, tmp_path: Path) -> None:
    python_type, make, pinned = CASES[name]
    spec = cached_wfs.square.spec()

    key = cache_key(spec, {"x": make(tmp_path)}, {"x": python_type})

    assert key.tag == f"flyte_cached-{pinned}"


def test_the_dataset_version_of_a_known_task_does_not_change() -> None:
    assert dataset_version(cached_wfs.square.spec()) == "1-be06b7bea0b7dc15-f2eb5f8aeaebfe40"


class Reading:
    """A user type whose JSON form holds a detail that must not count (when it was read)."""

    def __init__(self, celsius: float, read_at: str) -> None:
        self.celsius = celsius
        self.read_at = read_at


class _ReadingTransformer(TypeTransformer[Reading]):
    name = "Reading"

    def matches(self, python_type: Any) -> bool:
        return python_type is Reading

    def check(self, value: Any, python_type: Any) -> str | None:
        return None if isinstance(value, Reading) else "expected a Reading"

    def to_json(self, value: Reading, python_type: Any, ctx: Any = None) -> Any:
        return {"celsius": value.celsius, "read_at": value.read_at}

    def content_hash(self, value: Reading, python_type: Any) -> str | None:
        return f"reading:{value.celsius}"


TypeEngine.register(_ReadingTransformer())


@pytest.mark.parametrize("python_type", [Reading, Optional[Reading], list[Reading]])
def test_a_registered_transformer_decides_how_its_values_are_hashed(python_type: Any) -> None:
    def tag(value: Reading) -> str:
        given = [value] if python_type == list[Reading] else value
        return cache_key(cached_wfs.square.spec(), {"x": given}, {"x": python_type}).tag

    assert tag(Reading(21.5, "09:00")) == tag(Reading(21.5, "17:00"))
    assert tag(Reading(21.5, "09:00")) != tag(Reading(22.0, "09:00"))
