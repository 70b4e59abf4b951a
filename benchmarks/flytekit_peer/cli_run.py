"""flytekit: `pyflyte run basics.py wf --n 500 --mean 42 --sigma 2`, timed end to end."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from _common import parser, report

FLOAT = re.compile(r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?")


def stats_ok(stdout: str, mean: float, sigma: float) -> bool:
    """The last line holds the workflow's (mean, std) of the samples."""
    lines = stdout.strip().splitlines()
    found = [float(v) for v in FLOAT.findall(lines[-1])] if lines else []
    return len(found) >= 2 and abs(found[-2] - mean) < 1 and abs(found[-1] - sigma) < 1


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--mean", type=float, default=42.0)
    p.add_argument("--sigma", type=float, default=2.0)
    args = p.parse_args()
    pyflyte = Path(sys.executable).parent / "pyflyte"
    cmd = [str(pyflyte), "run", "basics.py", "wf", "--n", str(args.n), "--mean",
           str(args.mean), "--sigma", str(args.sigma)]
    seconds = []
    for i in range(args.repeats + 1):  # the first run warms the file system cache
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              cwd=Path(__file__).parent)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or not stats_ok(done.stdout, args.mean, args.sigma):
            sys.exit(f"pyflyte run failed (exit {done.returncode}): "
                     f"{(done.stdout + done.stderr).strip()[-300:]}")
        if i:
            seconds.append(elapsed)
    report({"wall": seconds})


if __name__ == "__main__":
    main()
