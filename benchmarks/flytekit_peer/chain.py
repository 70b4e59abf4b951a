"""flytekit: a chain of LENGTH dependent tasks, each adding one, run locally."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

from _common import check, parser, report, timed_runs
from flytekit import task, workflow


@task
def add_one(x: int) -> int:
    return x + 1


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--length", type=int, default=200)
    args = p.parse_args()
    length = args.length

    @workflow
    def chain(start: int) -> int:
        x = start
        for _ in range(length):
            x = add_one(x=x)
        return x

    seconds = timed_runs(lambda: chain(start=7), args.repeats,
                         lambda out: check("end of chain", out, 7 + length))
    report({"wall": seconds})


if __name__ == "__main__":
    main()
