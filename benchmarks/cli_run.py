"""The dev loop from the shell: ``flyray run examples/basics.py wf --n 500 --mean 42 --sigma 2``.

Cold: a Flyray home with no cluster, on a machine where none of Flyray's runs: the run
starts the home's warm runtime and runs on it (the runtime is stopped again, untimed,
before the next cold run). Warm: the same command after an earlier run of it, once the
runtime has prepared its spare driver for the next run (the wait for that is untimed: a
user reads the last result meanwhile). Raw Ray runs the same two tasks from a script
started the same way (benchmarks/_raw_basics.py): cold, starting Ray in-process; warm,
attached to a running cluster. flytekit's peer is ``pyflyte run`` of the same example.
Each figure is the whole subprocess: interpreter start, imports, Ray start or attach, the
run, exit. Also timed: ``flyray --help`` and ``flyray run FILE NAME --help`` (no cluster).
Targets (#20): warm <= 1.0x pyflyte run, cold <= 4 s, --help <= 0.3 s, run --help <= 0.8 s.

    python -m benchmarks.cli_run   # the same as: python -m benchmarks --only cli_run
"""

from __future__ import annotations

import json
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


def _flyray(*args: str) -> list[str]:
    exe = Path(sys.executable).parent / "flyray"
    base = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                             "from engine.cli.main import main; main()"]
    return [*base, *args]


def _flyray_cmd() -> list[str]:
    return _flyray("run", "examples/basics.py", "wf", "--n", str(ARGS["n"]), "--mean",
                   f"{ARGS['mean']:g}", "--sigma", f"{ARGS['sigma']:g}")


def _raw_cmd() -> list[str]:
    return [sys.executable, "-m", "benchmarks._raw_basics",
            *(str(ARGS[k]) for k in ("n", "mean", "sigma"))]


def _env(home: Path, address: str) -> dict[str, str]:
    """The environment of a command: its Flyray home; ``address`` "auto" (the home's warm
    runtime), "local" or a GCS address (raw Ray attaches there)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "FLYRAY_RAY_ADDRESS")}
    env.update(FLYRAY_HOME=str(home), FLYRAY_RAY_ADDRESS=address, RAW_RAY_ADDRESS=address,
               FLYRAY_LOCAL_RUNTIME="1", RAY_AUTH_MODE="disabled")
    if address not in ("local", "auto"):
        env["RAY_ADDRESS"] = address
    return env


def _run_once(what: str, cmd: list[str], env: dict[str, str], *,
              check_stats: bool = True) -> float:
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{NAME} ({what}): ran past {TIMEOUT_S} s") from None
    elapsed = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    found = [float(v) for v in FLOAT.findall(lines[-1])] if lines else []
    stats_ok = (len(found) >= 2 and abs(found[-2] - ARGS["mean"]) <= 1
                and abs(found[-1] - ARGS["sigma"]) <= 1)
    if done.returncode != 0 or (check_stats and not stats_ok):
        raise BenchmarkError(f"{NAME} ({what}): exit {done.returncode}, expected the samples' "
                             f"(mean, std) near ({ARGS['mean']:g}, {ARGS['sigma']:g}); output: "
                             f"{(done.stdout + done.stderr).strip()[-400:]}")
    return elapsed


def _stop_runtime(home: Path) -> None:
    subprocess.run(_flyray("cluster", "stop"), env=_env(home, "auto"), cwd=ROOT,
                   capture_output=True, timeout=TIMEOUT_S, check=False)


def _wait_for_spare(home: Path) -> None:
    """Until the home's warm runtime has its spare driver ready (see engine.cli.spare)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            temp_dir = json.loads((home / "cluster" / "state.json").read_text())["temp_dir"]
        except (OSError, ValueError, KeyError):
            temp_dir = None
        if temp_dir and (Path(temp_dir) / "spare.sock").exists():
            return
        time.sleep(0.2)
    raise BenchmarkError(f"{NAME}: the warm runtime prepared no spare driver within 120 s "
                         f"(its log: {home / 'cluster' / 'spare.log'})")


def measure(cfg: RunConfig) -> Outcome:
    cold_home = cfg.settings.home / "cli-cold"
    warm_home = cfg.settings.home / "cli-warm"
    runs: dict[str, list[float]] = {name: [] for name in (
        "flyray cold", "ray cold", "flyray warm", "ray warm", "help", "run help")}
    try:
        # Warm-up: the page cache for the imports, the warm runtime and the spare.
        _run_once("flyray warm", _flyray_cmd(), _env(warm_home, "auto"))
        _run_once("ray warm", _raw_cmd(), _env(cold_home, cfg.ray_address))
        for _ in range(cfg.repeats):
            _stop_runtime(cold_home)
            runs["flyray cold"].append(
                _run_once("flyray cold", _flyray_cmd(), _env(cold_home, "auto")))
            _stop_runtime(cold_home)
            runs["ray cold"].append(_run_once("ray cold", _raw_cmd(), _env(cold_home, "local")))
            _wait_for_spare(warm_home)
            runs["flyray warm"].append(
                _run_once("flyray warm", _flyray_cmd(), _env(warm_home, "auto")))
            runs["ray warm"].append(
                _run_once("ray warm", _raw_cmd(), _env(cold_home, cfg.ray_address)))
        for _ in range(max(5, cfg.repeats)):
            runs["help"].append(_run_once("--help", _flyray("--help"), _env(cold_home, "auto"),
                                          check_stats=False))
            runs["run help"].append(_run_once(
                "run --help", _flyray("run", "examples/basics.py", "wf", "--help"),
                _env(cold_home, "auto"), check_stats=False))
    finally:
        _stop_runtime(cold_home)
        _stop_runtime(warm_home)
    kit = cfg.flytekit("cli_run.py", [f"--{k}={v}" for k, v in ARGS.items()],
                       timeout=60 + 30 * cfg.repeats)
    kit_wall = kit if isinstance(kit, str) else kit["wall"]
    warm = Figure.of(runs["flyray warm"], "s")
    cold = Figure.of(runs["flyray cold"], "s")
    if isinstance(kit_wall, str):
        warm_measured, warm_met = "no flytekit figure", None
    else:
        warm_measured = f"{warm.median / kit_wall.median:.2f}x pyflyte run"
        warm_met = warm.median <= kit_wall.median
    helps = {name: Figure.of(runs[name], "s") for name in ("help", "run help")}
    rows = [
        Row(NAME, "flyray run basics.py, warm (after one earlier run)", warm,
            Figure.of(runs["ray warm"], "s"), "<= 1.0x pyflyte run", warm_measured, warm_met,
            kit_wall, "served by the warm runtime's spare driver; raw Ray: a script that "
            "attaches to a running cluster; flytekit: pyflyte run (no cluster)"),
        Row(NAME, "flyray run basics.py, cold (no cluster running)", cold,
            Figure.of(runs["ray cold"], "s"), "<= 4 s", f"{cold.median:.2f} s",
            cold.median <= 4.0, kit_wall, "starts the home's warm runtime, then runs on it; "
            "raw Ray: a script that starts Ray in-process"),
        Row(NAME, "flyray --help", helps["help"], None, "<= 0.3 s",
            f"{helps['help'].median:.2f} s", helps["help"].median <= 0.3),
        Row(NAME, "flyray run basics.py wf --help (no cluster)", helps["run help"], None,
            "<= 0.8 s", f"{helps['run help'].median:.2f} s", helps["run help"].median <= 0.8,
            note="imports the example (pandas) to list its typed inputs"),
    ]
    return Outcome(rows, {"seconds": runs, "args": ARGS})
