"""Decks: ``@task(enable_deck=True)``, ``Deck(name, html)``, ``default_deck``, renderers;
one HTML document per attempt in the blob store, named by the node's record."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from engine import task
from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import load_settings
from engine.dag.run.context import current_context
from engine.dag.run.executor import run
from engine.deck import Deck, DeckField, MarkdownRenderer, TableRenderer, TopFrameRenderer
from engine.errors import ConfigError
from tests.fixtures import deck_wfs as wfs


def _document(uri: str) -> str:
    return BlobStore(StorageConfig.from_settings(load_settings())).read_bytes(uri).decode()


def _tabs(page: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]*)</button>", page)


@pytest.mark.usefixtures("ray_cluster")
def test_an_attempt_stores_one_document_with_flyrays_decks_and_the_tasks() -> None:
    result = run(wfs.report.compile(), {"n": 4})
    made, plain = result.record.nodes["n0"], result.record.nodes["n1"]
    assert made.deck_uri is not None
    assert made.deck_uri.endswith(f"/decks/{result.record.name}/n0/1.html")
    assert plain.deck_uri is None  # no enable_deck: its Deck(...) went nowhere
    page = _document(made.deck_uri)
    assert _tabs(page) == ["Source Code", "Dependencies", "Timeline", "Input", "Output",
                           "summary", "default"]
    assert "<h1>4 rows</h1>" in page and "from the default deck" in page
    assert "def summarize" in re.sub(r"<[^>]+>", "", page)  # highlighted source
    assert page.count('class="dataframe"') == 2  # the output (its renderer), the summary's


@pytest.mark.usefixtures("ray_cluster")
def test_deck_fields_choose_flyrays_decks() -> None:
    result = run(wfs.labelled.compile(), {"label": "<b>x</b>"})
    page = _document(result.record.nodes["n0"].deck_uri or "")
    assert _tabs(page) == ["Input"]
    assert "&#x27;&lt;b&gt;x&lt;/b&gt;&#x27;" in page  # values are text, escaped


def test_decks_join_the_running_attempts_list_and_default_deck_is_one() -> None:
    params = current_context()
    assert params.decks == []  # outside an execution: a context of its own
    deck = Deck("a", "<p>1</p>").append("<p>2</p>")
    assert (deck.name, deck.html) == ("a", "<p>1</p>\n<p>2</p>")
    assert params.default_deck is params.default_deck
    assert [d.name for d in params.decks] == ["default"]


def test_renderers_and_bad_html() -> None:
    df = pd.DataFrame({"a": range(30)})
    assert MarkdownRenderer().to_html("*hi*") == "<p><em>hi</em></p>\n"
    assert TopFrameRenderer(max_rows=4).to_html(df).count("<tr>") < 10
    assert TableRenderer().to_html(df.head(2), header_labels=["A"]).count("<th>A</th>") == 1
    with pytest.raises(TypeError, match="takes HTML as a str"):
        Deck("bad", 3)  # type: ignore[arg-type]


def test_enable_deck_is_in_the_spec_and_bad_fields_are_refused() -> None:
    assert wfs.inputs_only.spec().metadata.deck_fields == (DeckField.INPUT.value,)
    assert "deck_fields" not in wfs.no_deck.spec().metadata.to_dict()  # versions unchanged
    with pytest.raises(ConfigError, match="deck_fields takes DeckField values"):
        task(enable_deck=True, deck_fields=("Inputs",))(lambda: None)
