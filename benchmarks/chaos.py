"""The fault suite's full variants, one after another on one chaos environment (a two-node
local cluster, PostgreSQL and S3 servers of its own), with the "nothing lost" checker
after each: writes ``benchmarks/results/chaos_report.json`` and ``chaos_report.md`` and
prints the headline,

    faults survived X/Y · lost 0 · duplicated 0 · load held R req/s at ≤ E% errors
    during faults · 1,000 executions drained in T s

    python -m benchmarks.chaos [--smoke] [--only F1,F5]

``--smoke`` runs the CI variants instead (what ``tests/chaos`` runs), in a few
minutes. With ``--only`` the report keeps the other scenarios' rows of its last run
(each row says when it was measured). A scenario that raises is reported as not
survived, with its error, and the run goes on to the next.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

# As the test session does: no token auth on the local cluster, no usage reporting.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from benchmarks._measure import RESULTS  # noqa: E402
from tests.chaos.environment import ChaosEnv  # noqa: E402
from tests.chaos.invariants import Verdict  # noqa: E402
from tests.chaos.registry import scenario_modules  # noqa: E402
from tests.chaos.report import ScenarioResult, table, write_report  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the CI variants only")
    parser.add_argument("--only", metavar="F1[,F5]", default="",
                        help="run only these scenarios")
    args = parser.parse_args(argv)
    chosen = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    modules = [m for m in scenario_modules() if not chosen or m.SCENARIO in chosen]
    env = ChaosEnv()
    results: list[ScenarioResult] = []
    try:
        for module in modules:
            print(f"{module.SCENARIO} {module.TITLE} ...", flush=True)
            began = time.monotonic()
            try:
                result = module.run(env, full=not args.smoke)
            except Exception as e:  # reported, and the run goes on  # noqa: BLE001
                verdict = Verdict()
                verdict.fail("run", f"{type(e).__name__}: {e}")
                traceback.print_exc()
                result = ScenarioResult(module.SCENARIO, module.TITLE,
                                        "smoke" if args.smoke else "full", 0, verdict,
                                        duration_s=time.monotonic() - began)
            results.append(result)
            print(f"  {'survived' if result.survived else 'NOT survived'} in "
                  f"{time.monotonic() - began:.0f} s", flush=True)
            for violation in result.verdict.violations:
                print(f"    {violation}", flush=True)
    finally:
        env.close()
    RESULTS.mkdir(exist_ok=True)
    name = "chaos_report-smoke.json" if args.smoke else "chaos_report.json"
    # A run of some scenarios replaces their rows in the report, keeping the others.
    line = write_report(results, RESULTS / name, merge=bool(chosen))
    print()
    print(table([r.row() for r in results]))
    print()
    print(line)
    return 0 if all(r.survived for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
