"""The deck document of one task attempt: Flyray's own decks (inputs, outputs, source,
timeline, dependencies, as ``deck_fields`` asks) with the task's, stored in the blob
store at ``decks/<execution>/<node>/<attempt>.html``."""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
import inspect
from collections.abc import Mapping
from typing import Any

from engine.catalog.blob import BlobStore
from engine.deck.deck import Deck, DeckField, document, unregistered
from engine.deck.renderer import SourceCodeRenderer, TopFrameRenderer
from engine.types.type_engine import annotated_parts

# Characters of a value's text shown in the Input and Output decks.
_VALUE_CHARS = 2000


def deck_uri(blobs: BlobStore, execution: str, node_id: str, attempt: int) -> str:
    """Where the deck document of ``attempt`` (1 for the first) of a node is stored."""
    return blobs.uri("decks", execution, node_id or "task", f"{attempt}.html")


def store_deck(blobs: BlobStore, uri: str, title: str, fields: tuple[str, ...],
               decks: list[Deck], facts: AttemptFacts) -> None:
    """Render the attempt's document (Flyray's decks first, then the task's) to ``uri``."""
    own = [deck for field in fields if (deck := _own_deck(DeckField(field), facts))]
    blobs.write_bytes(uri, document(title, [*own, *decks]).encode())


class AttemptFacts:
    """What Flyray's own decks show of one attempt."""

    def __init__(self, fn: Any, input_types: Mapping[str, Any], inputs: Mapping[str, Any],
                 output_types: Mapping[str, Any], outputs: list[Any] | None,
                 start: float, end: float) -> None:
        self.fn = fn
        self.inputs = [(n, input_types.get(n), v) for n, v in inputs.items()]
        self.outputs = ([] if outputs is None else
                        list(zip(output_types, output_types.values(), outputs, strict=True)))
        self.start, self.end = start, end


def _own_deck(field: DeckField, facts: AttemptFacts) -> Deck | None:
    """One of Flyray's decks, made apart from the attempt's list (not registered)."""
    body: str | None
    if field is DeckField.INPUT:
        body = _values(facts.inputs)
    elif field is DeckField.OUTPUT:
        body = _values(facts.outputs)
    elif field is DeckField.SOURCE_CODE:
        body = _source(facts.fn)
    elif field is DeckField.TIMELINE:
        body = _timeline(facts.start, facts.end)
    else:
        body = _dependencies()
    if body is None:
        return None
    return unregistered(field.value, body)


def _values(rows: list[tuple[str, Any, Any]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(n)}</th><td>{_value(t, v)}</td></tr>"
                    for n, t, v in rows)
    return f"<table>{cells}</table>" if rows else "<p>none</p>"


def _value(python_type: Any, value: Any) -> str:
    """A value as HTML: by the renderer its type is annotated with, a DataFrame as its
    first rows, anything else as its text."""
    for meta in annotated_parts(python_type)[1]:
        if callable(getattr(meta, "to_html", None)):
            return str(meta.to_html(value))
    if hasattr(value, "to_html") and hasattr(value, "columns"):
        return TopFrameRenderer().to_html(value)
    text = repr(value)
    if len(text) > _VALUE_CHARS:
        text = text[:_VALUE_CHARS] + f"... ({len(text)} characters)"
    return f"<pre>{html.escape(text)}</pre>"


def _source(fn: Any) -> str | None:
    try:
        return SourceCodeRenderer().to_html(inspect.getsource(fn))
    except (OSError, TypeError):  # no source: a built-in, a task without a function
        return None


def _timeline(start: float, end: float) -> str:
    def at(t: float) -> str:
        return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")

    return (f"<table><tr><th>started</th><td>{at(start)}</td></tr><tr><th>ended</th>"
            f"<td>{at(end)}</td></tr><tr><th>seconds</th><td>{end - start:.3f}</td></tr>"
            "</table>")


def _dependencies() -> str:
    packages = sorted({(d.metadata["Name"] or "?", d.version)
                       for d in importlib.metadata.distributions()})
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td></tr>"
                   for n, v in packages)
    return f"<table><tr><th>package</th><th>version</th></tr>{rows}</table>"
