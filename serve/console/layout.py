"""A layered layout of a directed acyclic graph, left to right: plain data in and out.

Ranks are longest paths from the sources (each node one column right of its deepest
upstream node); a few barycenter sweeps order each column to reduce crossings; columns
are centred on the tallest. There is no edge routing: the browser draws straight or
curved lines between boxes. Linear apart from the sorts, so 10,000 nodes take tens of
milliseconds (Graphviz takes about 20 s and dagre minutes: see CONSOLE.md §3.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RANK_GAP = 60  # horizontal space between columns
NODE_GAP = 14  # vertical space between boxes of one column
SWEEPS = 4


@dataclass(frozen=True)
class Layout:
    """Where each node's box goes: ``x[i]``, ``y[i]`` its top left corner; the whole
    drawing is ``width`` by ``height``."""

    x: list[int]
    y: list[int]
    width: int
    height: int


def layered(sizes: Sequence[tuple[int, int]], edges: Sequence[tuple[int, int]]) -> Layout:
    """Lay out nodes ``0..len(sizes)-1`` (``sizes[i]``: width, height) joined by
    ``edges`` (upstream, downstream). Edges of a cycle, which a workflow never has, are
    ignored for ranking rather than refused."""
    n = len(sizes)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        if a != b:
            succs[a].append(b)
            preds[b].append(a)
    rank = _ranks(n, preds, succs)
    columns: list[list[int]] = [[] for _ in range(max(rank, default=-1) + 1)]
    for v in range(n):
        columns[rank[v]].append(v)
    _order(columns, preds, succs, n)
    return _place(columns, sizes)


def _ranks(n: int, preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    """Longest path from a source, in topological order (Kahn)."""
    waiting = [len(p) for p in preds]
    rank = [0] * n
    ready = [v for v in range(n) if waiting[v] == 0]
    while ready:  # nodes on a cycle are never ready: they keep the ranks reached so far
        v = ready.pop()
        for w in succs[v]:
            rank[w] = max(rank[w], rank[v] + 1)
            waiting[w] -= 1
            if waiting[w] == 0:
                ready.append(w)
    return rank


def _order(columns: list[list[int]], preds: list[list[int]], succs: list[list[int]],
           n: int) -> None:
    """Barycenter sweeps, down then up: each node sorts by the mean relative position
    (0..1 within its column) of its neighbours in the direction of the sweep."""
    where = [0.0] * n

    def number(column: list[int]) -> None:
        size = max(len(column) - 1, 1)
        for i, v in enumerate(column):
            where[v] = i / size

    for column in columns:
        number(column)
    for sweep in range(SWEEPS):
        neighbours = preds if sweep % 2 == 0 else succs
        ordered = columns[1:] if sweep % 2 == 0 else columns[-2::-1]
        for column in ordered:
            keys = {}
            for v in column:
                near = neighbours[v]
                keys[v] = sum(where[u] for u in near) / len(near) if near else where[v]
            column.sort(key=keys.__getitem__)
            number(column)


def _place(columns: list[list[int]], sizes: Sequence[tuple[int, int]]) -> Layout:
    n = len(sizes)
    x = [0] * n
    y = [0] * n
    heights = [sum(sizes[v][1] for v in c) + NODE_GAP * max(len(c) - 1, 0) for c in columns]
    height = max(heights, default=0)
    left = 0
    for column, column_height in zip(columns, heights, strict=True):
        top = (height - column_height) // 2
        for v in column:
            x[v], y[v] = left, top
            top += sizes[v][1] + NODE_GAP
        left += max((sizes[v][0] for v in column), default=0) + RANK_GAP
    return Layout(x, y, max(left - RANK_GAP, 0), height)
