"""flytekit: map_task over N tiny elements (each adds one), run locally in-process."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

from _common import check, parser, report, timed_runs
from flytekit import map_task, task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def mapped(xs: list[int]) -> list[int]:
    return map_task(inc)(x=xs)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--no-warm-up", action="store_true", help="time from the first run on")
    args = p.parse_args()
    xs = list(range(args.n))
    expected = [x + 1 for x in xs]
    seconds = timed_runs(lambda: mapped(xs=xs), args.repeats,
                         lambda out: check("map outputs", list(out), expected),
                         warm_up=not args.no_warm_up)
    report({"wall": seconds})


if __name__ == "__main__":
    main()
