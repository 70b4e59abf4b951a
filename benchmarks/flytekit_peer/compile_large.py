"""flytekit: compile a workflow of NODES nodes (chains of inc, then one total)."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

import time

from _common import check, parser, report
from flytekit import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(xs: list[int]) -> int:
    return sum(xs)


def body(chains: int, length: int):  # type: ignore[no-untyped-def]
    def large() -> int:
        ends = []
        for c in range(chains):
            x = inc(x=c)
            for _ in range(length - 1):
                x = inc(x=x)
            ends.append(x)
        return total(xs=ends)

    return large


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--chains", type=int, default=99)
    p.add_argument("--length", type=int, default=101)
    args = p.parse_args()
    nodes = args.chains * args.length + 1
    seconds = []
    for _ in range(args.repeats):
        fn = body(args.chains, args.length)
        start = time.perf_counter()
        wf = workflow(fn)
        wf.compile()  # flytekit 1.16 compiles lazily, on first use
        seconds.append(time.perf_counter() - start)
        check("compiled nodes", len(wf.nodes), nodes)
    report({"compile": seconds}, nodes=nodes)


if __name__ == "__main__":
    main()
