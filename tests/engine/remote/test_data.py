"""LiteralsResolver (what FlyteRemote's inputs and outputs are): values of a type
registered flytekit's way come back as that type, read from the admin's blob store."""

from __future__ import annotations

from pathlib import Path

from engine.catalog.blob import BlobStore, StorageConfig
from engine.remote.data import LiteralsResolver
from engine.types.type_engine import DataContext, TypeEngine
from tests.fixtures.custom_type_wfs import MyDataset


def _dataset(directory: Path, *names: str) -> MyDataset:
    directory.mkdir()
    for name in names:
        (directory / name).write_text(f"contents of {name}")
    return MyDataset(str(directory))


def _contents(dataset: MyDataset) -> list[str]:
    return sorted(Path(f).read_text() for f in dataset.files)


def test_a_custom_type_reads_back_as_the_users_type(tmp_path: Path) -> None:
    store = BlobStore(StorageConfig(root=(tmp_path / "blobs").as_uri()))
    ctx = DataContext(store, store.uri("raw", "run", "n0", "0"), tmp_path / "work")
    single = TypeEngine.to_json(_dataset(tmp_path / "a", "x0", "x1"), MyDataset, ctx)
    several = TypeEngine.to_json([_dataset(tmp_path / "b", "y0")], list[MyDataset], ctx)
    resolver = LiteralsResolver({"o0": single, "o1": several},
                                {"o0": MyDataset, "o1": list[MyDataset]}, store,
                                what="outputs of execution 'run'")

    dataset = resolver["o0"]
    assert isinstance(dataset, MyDataset)
    assert _contents(dataset) == ["contents of x0", "contents of x1"]
    assert resolver.get("o0") is dataset  # read once
    [inner] = resolver["o1"]
    assert isinstance(inner, MyDataset) and _contents(inner) == ["contents of y0"]
    assert isinstance(resolver.get("o0", as_type=MyDataset), MyDataset)
