"""flytekit: eight independent tasks that each sleep, requests cpu=250m, run locally."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

import time

from _common import check, parser, report, timed_runs
from flytekit import Resources, task, workflow

TASKS = 8


@task(requests=Resources(cpu="250m"))
def nap(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return i


@workflow
def naps(seconds: float) -> list[int]:
    return [nap(i=i, seconds=seconds) for i in range(TASKS)]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    seconds = timed_runs(lambda: naps(seconds=args.seconds), args.repeats,
                         lambda out: check("naps", list(out), list(range(TASKS))),
                         warm_up=False)  # sequential sleeps: nothing to warm up but imports
    report({"wall": seconds})


if __name__ == "__main__":
    main()
