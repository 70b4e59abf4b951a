"""End to end from the shell: ``flyray run examples/basics.py wf --n 500 --mean 42 --sigma 2``.

Cold: no cluster to attach to (FLYRAY_RAY_ADDRESS=local), so the command starts Ray
in-process and stops it at exit. Warm: attached to the run's cluster. Raw Ray runs
the same two tasks from a script started the same way (benchmarks/_raw_basics.py);
flytekit's peer is ``pyflyte run`` of the same example. Each figure is the whole
subprocess: interpreter start, imports, Ray start or attach, the run, exit.
#6 names no target for this workload: the figures are reported, not judged.

    python -m benchmarks.cli_run   # the same as: python -m benchmarks --only cli_run
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._config import RunConfig
from benchmarks._measure import BenchmarkError
from benchmarks._report import Figure, Outcome, Row

NAME = "cli_run"
REPEATS = 3
ROOT = Path(__file__).resolve().parents[1]
ARGS = {"n": 500, "mean": 42.0, "sigma": 2.0}
FLOAT = re.compile(r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?")
TIMEOUT_S = 180


def _flyray_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "flyray"
    base = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                             "from engine.cli.main import main; main()"]
    return [*base, "run", "examples/basics.py", "wf", "--n", str(ARGS["n"]), "--mean",
            f"{ARGS['mean']:g}", "--sigma", f"{ARGS['sigma']:g}"]


def _raw_cmd() -> list[str]:
    return [sys.executable, "-m", "benchmarks._raw_basics",
            *(str(ARGS[k]) for k in ("n", "mean", "sigma"))]


def _env(cfg: RunConfig, address: str) -> dict[str, str]:
    """The environment of a run: Flyray's throwaway home; ``address`` "local" or the GCS's."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "FLYRAY_RAY_ADDRESS")}
    env.update(FLYRAY_HOME=str(cfg.settings.home), FLYRAY_RAY_ADDRESS=address,
               RAW_RAY_ADDRESS=address, RAY_AUTH_MODE="disabled")
    if address != "local":
        env["RAY_ADDRESS"] = address
    return env


def _run_once(what: str, cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{NAME} ({what}): ran past {TIMEOUT_S} s") from None
    elapsed = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    found = [float(v) for v in FLOAT.findall(lines[-1])] if lines else []
    if done.returncode != 0 or len(found) < 2 or abs(found[-2] - ARGS["mean"]) > 1 or \
            abs(found[-1] - ARGS["sigma"]) > 1:
        raise BenchmarkError(f"{NAME} ({what}): exit {done.returncode}, expected the samples' "
                             f"(mean, std) near ({ARGS['mean']:g}, {ARGS['sigma']:g}); output: "
                             f"{(done.stdout + done.stderr).strip()[-400:]}")
    return elapsed


def measure(cfg: RunConfig) -> Outcome:
    variants = {
        ("flyray", "cold"): (_flyray_cmd(), _env(cfg, "local")),
        ("ray", "cold"): (_raw_cmd(), _env(cfg, "local")),
        ("flyray", "warm"): (_flyray_cmd(), _env(cfg, cfg.ray_address)),
        ("ray", "warm"): (_raw_cmd(), _env(cfg, cfg.ray_address)),
    }
    # Warm-up: the page cache for the imports, the cluster's workers for the warm runs.
    for key in (("flyray", "warm"), ("ray", "warm")):
        _run_once(" ".join(key), *variants[key])
    times: dict[str, list[float]] = {" ".join(k): [] for k in variants}
    for _ in range(cfg.repeats):
        for key, (cmd, env) in variants.items():
            times[" ".join(key)].append(_run_once(" ".join(key), cmd, env))
    kit = cfg.flytekit("cli_run.py", [f"--{k}={v}" for k, v in ARGS.items()],
                       timeout=60 + 30 * cfg.repeats)
    kit_wall = kit if isinstance(kit, str) else kit["wall"]
    rows = []
    for mode, how in (("cold", "starts its own Ray"), ("warm", "attaches to a running cluster")):
        flyray = Figure.of(times[f"flyray {mode}"], "s")
        raw = Figure.of(times[f"ray {mode}"], "s")
        if isinstance(kit_wall, str):
            measured = "no flytekit figure"
        else:
            measured = f"{flyray.median / kit_wall.median:.2f}x pyflyte run"
        rows.append(Row(NAME, f"flyray run basics.py, {mode}", flyray, raw, "none in #6",
                        measured, None, kit_wall,
                        f"{how}; flytekit: pyflyte run of the same example (no cluster)"))
    return Outcome(rows, {"seconds": times, "args": ARGS})


if __name__ == "__main__":
    from benchmarks.__main__ import main

    main(["--only", NAME, *sys.argv[1:]])
