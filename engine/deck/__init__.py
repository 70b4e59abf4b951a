"""Decks: HTML pages a task writes about its run, at flytekit's ``flytekit.deck``.

    @task(enable_deck=True)
    def report(df: pd.DataFrame) -> int:
        Deck("summary", MarkdownRenderer().to_html("# Rows\\n" + str(len(df))))
        current_context().default_deck.append(TopFrameRenderer(5).to_html(df))
        return len(df)

A node's decks are rendered into one HTML document per attempt and stored in the blob
store (``decks/<execution>/<node>/<attempt>.html``); the node's record names it.
"""

from __future__ import annotations

from engine.deck.deck import Deck, DeckField
from engine.deck.renderer import (
    MarkdownRenderer,
    SourceCodeRenderer,
    TableRenderer,
    TopFrameRenderer,
)

__all__ = [
    "Deck",
    "DeckField",
    "MarkdownRenderer",
    "SourceCodeRenderer",
    "TableRenderer",
    "TopFrameRenderer",
]
