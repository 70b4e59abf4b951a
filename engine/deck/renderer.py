"""Renderers: values to HTML fragments for a :class:`~engine.deck.Deck`.

The renderers flytekit ships in ``flytekit.deck.renderer`` (``MarkdownRenderer``,
``SourceCodeRenderer``, ``TopFrameRenderer``), and the plugin's ``TableRenderer``, which
needs nothing beyond pandas.
"""

from __future__ import annotations

import html
from typing import Any

DEFAULT_MAX_ROWS = 10
DEFAULT_MAX_COLS = 100


class MarkdownRenderer:
    """Markdown text as HTML (CommonMark, with tables)."""

    def to_html(self, text: str) -> str:
        from markdown_it import MarkdownIt  # noqa: PLC0415 - only where markdown is shown

        return str(MarkdownIt("commonmark").enable("table").render(text))


class SourceCodeRenderer:
    """Python source as highlighted HTML."""

    def __init__(self, title: str = "Source Code") -> None:
        self.title = title

    def to_html(self, source_code: str) -> str:
        # Untyped (pygments ships no stubs); comes with rich, a dependency.
        from pygments import highlight  # type: ignore[import-untyped]  # noqa: PLC0415
        from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]  # noqa: PLC0415
        from pygments.lexers import PythonLexer  # type: ignore[import-untyped]  # noqa: PLC0415

        formatter = HtmlFormatter(style="default", noclasses=True)
        return f"<h3>{html.escape(self.title)}</h3>" + str(
            highlight(source_code, PythonLexer(), formatter))


class TopFrameRenderer:
    """The first rows of a DataFrame as an HTML table."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS,
                 max_cols: int = DEFAULT_MAX_COLS) -> None:
        self._max_rows = max_rows
        self._max_cols = max_cols

    def to_html(self, df: Any) -> str:
        _expect_frame(df, "TopFrameRenderer")
        return str(df.to_html(max_rows=self._max_rows, max_cols=self._max_cols))


class TableRenderer:
    """A whole DataFrame as an HTML table (flytekitplugins.deck's)."""

    def to_html(self, df: Any, header_labels: list[str] | None = None,
                table_width: int | None = None) -> str:
        _expect_frame(df, "TableRenderer")
        if header_labels is not None:
            df = df.set_axis(header_labels, axis=1)
        style = f' style="width: {int(table_width)}px"' if table_width else ""
        return f"<div{style}>{df.to_html(index=False)}</div>"


def _expect_frame(df: Any, who: str) -> None:
    if not hasattr(df, "to_html") or not hasattr(df, "columns"):
        raise TypeError(f"{who}.to_html takes a pandas DataFrame, got {type(df).__name__}")
