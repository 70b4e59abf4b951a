"""A map_task over 1,000 tiny elements (each adds one).

Flyray runs the map on Ray in a few batches; raw Ray runs the same batches as
remote calls; flytekit runs the map in-process. Target: Flyray <= 1.0x flytekit.

    python -m benchmarks.map_tiny   # the same as: python -m benchmarks --only map_tiny
"""

# Task calls are typed Any (in a workflow body they return promises): returning one is fine.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import sys

from benchmarks._batches import batch_size, raw_map
from benchmarks._config import RunConfig
from benchmarks._measure import check, interleaved
from benchmarks._report import Figure, Outcome, Row
from engine import map_task, task, workflow

NAME = "map_tiny"
REPEATS = 5
TARGET_RATIO = 1.0


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def mapped(xs: list[int]) -> list[int]:
    return map_task(inc)(x=xs)


def measure(cfg: RunConfig) -> Outcome:
    n = 1000
    xs = list(range(n))
    runs = {"ray": lambda: raw_map(inc.fn, xs), "flyray": lambda: mapped(xs=xs)}
    expected = [x + 1 for x in xs]

    def verify(name: str, out: object) -> None:
        check(f"{NAME} ({name}) outputs", out, expected)

    interleaved(runs, 1, verify)
    times = interleaved(runs, cfg.repeats, verify)
    flyray, raw = Figure.of(times["flyray"], "s"), Figure.of(times["ray"], "s")
    kit = cfg.flytekit("map_tiny.py", ["--n", str(n)], timeout=300)
    kit_wall = kit if isinstance(kit, str) else kit["wall"]
    if isinstance(kit_wall, str):
        measured, met = "no flytekit figure", None
    else:
        ratio = flyray.median / kit_wall.median
        measured, met = f"{ratio:.2f}x flytekit", ratio <= TARGET_RATIO
    size = batch_size(n)
    row = Row(NAME, f"map_task over {n} elements", flyray, raw,
              f"<= {TARGET_RATIO:g}x flytekit", measured, met, kit_wall,
              f"raw Ray: {-(-n // size)} remote calls of {size} elements, as Flyray batches")
    return Outcome([row], {"seconds": times, "elements": n})


if __name__ == "__main__":
    from benchmarks.__main__ import main

    main(["--only", NAME, *sys.argv[1:]])
