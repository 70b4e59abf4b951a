"""What a workload reports: rows of figures against a target, and the table they make."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """A measured quantity: the median of repeats and their min–max, in one unit."""

    median: float
    low: float
    high: float
    unit: str  # "s", "ms" or "MB"
    runs: int
    # Shown instead of "median (min–max)" where another summary fits better (p50, p99).
    text: str = ""

    @classmethod
    def of(cls, values: list[float], unit: str, scale: float = 1.0) -> Figure:
        """Median and min–max of ``values`` multiplied by ``scale`` (e.g. 1000 for s -> ms)."""
        scaled = [v * scale for v in values]
        return cls(statistics.median(scaled), min(scaled), max(scaled), unit, len(scaled))

    def scaled(self, factor: float, unit: str) -> Figure:
        return Figure(self.median * factor, self.low * factor, self.high * factor, unit,
                      self.runs, self.text)

    def show(self) -> str:
        if self.text:
            return self.text
        digits = 0 if self.median >= 100 else 1 if self.median >= 10 else 2 if \
            self.median >= 0.1 else 3
        if self.runs == 1:
            return f"{self.median:.{digits}f} {self.unit}"
        return (f"{self.median:.{digits}f} {self.unit} "
                f"({self.low:.{digits}f}–{self.high:.{digits}f})")


@dataclass(frozen=True)
class Row:
    """One line of the table: Flyray, raw Ray and flytekit doing one piece of work."""

    workload: str
    metric: str  # what was timed or weighed, in a few words
    flyray: Figure | None
    ray: Figure | None  # raw Ray doing the same work in the same run; None: no raw peer
    target: str  # e.g. "<= 1.3x raw Ray"
    measured: str  # the figure the target is checked against, e.g. "1.12x"
    met: bool | None  # None: not checkable in this run (the reason is in ``note``)
    # flytekit's figure; a string says why it was skipped; None: the workload has no peer.
    flytekit: Figure | str | None = None
    note: str = ""
    error: str = ""  # the workload broke: no figure can be trusted


    @property
    def ratio(self) -> float | None:
        if self.flyray is None or self.ray is None or not self.ray.median:
            return None
        return self.flyray.median / self.ray.median

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return "n/a" if self.met is None else "met" if self.met else "MISSED"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["verdict"] = self.verdict
        return data


@dataclass
class Outcome:
    """What one workload returns: its rows and the raw data behind them (for the JSON)."""

    rows: list[Row]
    data: dict[str, Any] = field(default_factory=dict)


def flytekit_cell(value: Figure | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return f"skipped: {value}"
    return value.show()


_COLUMNS = ("workload", "metric", "Flyray", "raw Ray", "ratio", "flytekit", "target",
            "measured", "verdict")


def table(rows: list[Row], flytekit_width: int = 34) -> str:
    """A plain-text table, one line per row; long skip reasons are cut to fit."""
    cells = []
    for r in rows:
        kit = flytekit_cell(r.flytekit)
        if len(kit) > flytekit_width:
            kit = kit[:flytekit_width - 1] + "…"
        cells.append((r.workload, r.metric, r.flyray.show() if r.flyray else "—",
                      r.ray.show() if r.ray else "—",
                      f"{r.ratio:.2f}x" if r.ratio is not None else "—", kit, r.target,
                      r.measured, r.verdict))
    widths = [max(len(c[i]) for c in [_COLUMNS, *cells]) for i in range(len(_COLUMNS))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()
              for cell in cells]
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    """The table as Markdown, for docs/benchmarks.md; skip reasons are left to the notes."""
    head = ("workload", "metric", "Flyray", "raw Ray, same run", "ratio", "flytekit", "target",
            "measured", "verdict")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        kit = "skipped" if isinstance(r.flytekit, str) else flytekit_cell(r.flytekit)
        verdict = f"**{r.verdict}**" if r.verdict in ("MISSED", "ERROR") else r.verdict
        cells = (r.workload, r.metric, r.flyray.show() if r.flyray else "—",
                 r.ray.show() if r.ray else "—",
                 f"{r.ratio:.2f}×" if r.ratio is not None else "—", kit,
                 r.target.replace("<=", "≤").replace(">=", "≥"), r.measured, verdict)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def notes(rows: list[Row]) -> list[str]:
    """Each row's note and every full skip reason, numbered by workload and metric."""
    out = []
    for r in rows:
        if r.error:
            out.append(f"{r.workload}: ERROR: {r.error}")
        if r.note:
            out.append(f"{r.workload} / {r.metric}: {r.note}")
        if isinstance(r.flytekit, str) and r.flytekit != "--no-flytekit":  # said in the header
            out.append(f"{r.workload} / {r.metric}: flytekit skipped: {r.flytekit}")
    return out
