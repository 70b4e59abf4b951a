"""flytekit: a workflow of WIDTH independent no-op nodes and their sum, run locally."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

from _common import check, parser, report, timed_runs
from flytekit import task, workflow


@task
def noop(i: int) -> int:
    return i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--width", type=int, default=1000)
    args = p.parse_args()
    width = args.width

    @workflow
    def fan() -> int:
        return total(xs=[noop(i=i) for i in range(width)])

    seconds = timed_runs(fan, args.repeats,
                         lambda out: check("fan sum", out, width * (width - 1) // 2))
    report({"wall": seconds})


if __name__ == "__main__":
    main()
