"""Every workload in one run, on one Ray cluster: ``python -m benchmarks``.

Prints one table (Flyray, raw Ray doing the same work in the same run, the ratio,
flytekit where it has a peer, the target and whether it is met) and writes
``benchmarks/results/latest.json`` (``latest-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks._harness import WORKLOADS, Options, run


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", metavar="NAME[,NAME]", action="append", default=[],
                        help=f"run only these workloads: {', '.join(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="timed runs of each variant (default: 5, or 3 for slow ones)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer repeats: a smoke run (~2 minutes)")
    parser.add_argument("--no-flytekit", dest="flytekit", action="store_false",
                        help="leave out the flytekit peer (no venv is created)")
    args = parser.parse_args(argv)
    chosen = {n.strip() for group in args.only for n in group.split(",") if n.strip()}
    unknown = sorted(chosen - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; "
                     f"known: {', '.join(WORKLOADS)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    only = [n for n in WORKLOADS if n in chosen] if chosen else list(WORKLOADS)
    return Options(only, args.repeats, args.quick, args.flytekit)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(parse(argv)))


if __name__ == "__main__":
    main()
