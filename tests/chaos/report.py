"""What each scenario reports (RELIABILITY.md §2.3), and the report of a whole run:
``chaos_report.json`` and its markdown table with the headline line."""

from __future__ import annotations

import datetime as dt
import json
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.invariants import Verdict


@dataclass
class ScenarioResult:
    """One scenario's run: the fault, the load, and what the checker found.

    ``survived`` only if every invariant held; ``figures`` holds what is particular to the
    scenario (requests/s under load, write latency, drain time...).
    """

    scenario: str  # "F1"
    title: str
    variant: str  # "smoke" or "full"
    faults_injected: int
    verdict: Verdict
    recovery_s: float | None = None
    api_requests: int = 0
    api_errors: int = 0  # answers of 5xx (503 included) during the fault window
    duration_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def survived(self) -> bool:
        return self.verdict.ok

    def row(self) -> dict[str, Any]:
        """The result as plain data, with when it was measured."""
        found = asdict(self)
        found["survived"] = self.survived
        found["measured_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return found


def headline(rows: list[dict[str, Any]]) -> str:
    """``faults survived X/Y · lost 0 · duplicated 0 · load held R req/s at ≤ E% errors
    during faults · 1,000 executions drained in T s``, from report rows
    (:meth:`ScenarioResult.row`)."""
    survived = sum(1 for r in rows if r["survived"])
    lost = sum(r["verdict"]["lost"] for r in rows)
    duplicated = sum(r["verdict"]["duplicated"] for r in rows)
    parts = [f"faults survived {survived}/{len(rows)}", f"lost {lost}",
             f"duplicated {duplicated}"]
    loads = [r for r in rows if "requests_per_s" in r["figures"]]
    if loads:
        rate = statistics.median(r["figures"]["requests_per_s"] for r in loads)
        errors = max(100.0 * r["api_errors"] / max(1, r["api_requests"]) for r in loads)
        parts.append(f"load held {rate:.0f} req/s at ≤ {errors:.0f}% errors during faults")
    for r in rows:
        if "drained_s" in r["figures"]:
            parts.append(f"{r['figures']['executions']:,} executions drained in "
                         f"{r['figures']['drained_s']:.0f} s")
    return " · ".join(parts)


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table, one row per scenario."""
    lines = ["| scenario | variant | faults | survived | accepted | succeeded | "
             "failed as expected | lost | duplicated | re-executed | recovery s | "
             "API errors | figures |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r["verdict"]
        recovery = "—" if r["recovery_s"] is None else f"{r['recovery_s']:.1f}"
        figures = ", ".join(f"{k} {_fmt(x)}" for k, x in r["figures"].items())
        lines.append(
            f"| {r['scenario']} {r['title']} | {r['variant']} | {r['faults_injected']} | "
            f"{'yes' if r['survived'] else 'NO'} | {v['accepted']} | {v['succeeded']} | "
            f"{v['failed_as_expected']} | {v['lost']} | {v['duplicated']} | "
            f"{v['reexecuted']} | {recovery} | {r['api_errors']}/{r['api_requests']} | "
            f"{figures} |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def write_report(results: list[ScenarioResult], path: Path, merge: bool = False) -> str:
    """Write ``path`` (JSON) and ``path`` with ``.md`` (the table); returns the headline.

    ``merge``: keep the rows of scenarios not run this time from the report already
    there (each row says when it was measured), replacing those that were.
    """
    rows = [r.row() for r in results]
    if merge and path.exists():
        ran = {r["scenario"] for r in rows}
        kept = [r for r in json.loads(path.read_text())["scenarios"] if r["scenario"] not in ran]
        rows = sorted(kept + rows, key=lambda r: int(r["scenario"][1:]))
    line = headline(rows)
    path.write_text(json.dumps({
        "headline": line,
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "scenarios": rows,
    }, indent=2, default=str) + "\n")
    path.with_suffix(".md").write_text(f"{line}\n\n{table(rows)}\n")
    return line


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
