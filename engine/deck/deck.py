"""``Deck``: one named HTML page of a task attempt, and the document of all of them.

A leaf module: the running attempt's list of decks is a ContextVar set here by the
worker (through :func:`collecting`), so that ``Deck(...)`` registers itself as in
flytekit without this module importing the execution context.
"""

from __future__ import annotations

import contextvars
import enum
import html
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_DECK = "default"


class DeckField(str, enum.Enum):
    """The decks Flyray writes itself for a task with ``enable_deck=True``."""

    INPUT = "Input"
    OUTPUT = "Output"
    SOURCE_CODE = "Source Code"
    TIMELINE = "Timeline"
    DEPENDENCIES = "Dependencies"


# flytekit's default ``deck_fields``.
DEFAULT_FIELDS = (DeckField.SOURCE_CODE, DeckField.DEPENDENCIES, DeckField.TIMELINE,
                  DeckField.INPUT, DeckField.OUTPUT)

# The decks of the attempt running in this context (None: outside one; decks made there
# go nowhere, as flytekit's outside a task execution).
_DECKS: contextvars.ContextVar[list[Deck] | None] = contextvars.ContextVar(
    "flyray_decks", default=None)


class Deck:
    """A named HTML page; made inside a task, it joins the running attempt's decks.

    Args:
        name: the page's title (tab) in the node's deck document.
        html: the page's first HTML fragment; :meth:`append` adds more.
    """

    def __init__(self, name: str, html: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Deck(name, html): name must be a non-empty str, got {name!r}")
        self._name = name
        self._html = _checked(html, f"Deck '{name}'")
        decks = _DECKS.get()
        if decks is not None:
            decks.append(self)

    def append(self, html: str) -> Deck:
        """Add an HTML fragment (a renderer's ``to_html``) at the end of the page."""
        self._html = f"{self._html}\n{_checked(html, f'Deck {self._name!r}: append')}"
        return self

    @property
    def name(self) -> str:
        return self._name

    @property
    def html(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return f"Deck({self._name!r}, {len(self._html)} characters)"


def _checked(fragment: object, what: str) -> str:
    if not isinstance(fragment, str):
        raise TypeError(f"{what} takes HTML as a str (a renderer's to_html()), got "
                        f"{type(fragment).__name__}")
    return fragment


@contextmanager
def collecting(decks: list[Deck]) -> Iterator[None]:
    """Decks made while the block runs join ``decks`` (the attempt's)."""
    token = _DECKS.set(decks)
    try:
        yield
    finally:
        _DECKS.reset(token)


def default_deck(decks: list[Deck]) -> Deck:
    """The deck named "default" of ``decks``, made (and added) on first use."""
    for deck in decks:
        if deck.name == DEFAULT_DECK:
            return deck
    token = _DECKS.set(decks)
    try:
        return Deck(DEFAULT_DECK)
    finally:
        _DECKS.reset(token)


def unregistered(name: str, html: str) -> Deck:
    """A deck that joins no attempt's list: Flyray's own decks of an attempt."""
    token = _DECKS.set(None)
    try:
        return Deck(name, html)
    finally:
        _DECKS.reset(token)


def document(title: str, decks: list[Deck]) -> str:
    """One HTML document holding every deck as a tab; decks of one name merge."""
    pages: dict[str, list[str]] = {}
    for deck in decks:
        pages.setdefault(deck.name, []).append(deck.html)
    tabs = "".join(
        f'<button onclick="show({i})" id="tab{i}">{html.escape(name)}</button>'
        for i, name in enumerate(pages))
    bodies = "".join(
        f'<section id="deck{i}" hidden>{"".join(parts)}</section>'
        for i, parts in enumerate(pages.values()))
    return _PAGE.format(title=html.escape(title), tabs=tabs, bodies=bodies)


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; }}
nav {{ display: flex; gap: 4px; padding: 8px; border-bottom: 1px solid #ddd; }}
nav button {{ border: 1px solid #ccc; background: #f6f6f6; padding: 4px 12px;
  cursor: pointer; }}
nav button.on {{ background: #fff; border-bottom-color: #fff; font-weight: 600; }}
section {{ padding: 12px; overflow: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: 2px 6px; }}
</style></head>
<body><nav>{tabs}</nav>{bodies}
<script>
function show(i) {{
  document.querySelectorAll("section").forEach((s, j) => s.hidden = j !== i);
  document.querySelectorAll("nav button").forEach((b, j) => b.className = j === i ? "on" : "");
}}
if (document.querySelector("section")) show(0);
</script></body></html>
"""
