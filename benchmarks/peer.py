"""flytekit as a benchmark peer: its own virtual environment, outside the repository.

flytekit is never a dependency of Flyray. The peer venv is created once with
``python -m venv`` and ``pip install flytekit==1.16.31 pandas pyarrow`` under
``~/.cache/flyray-bench/`` (``FLYRAY_BENCH_PEER_VENV`` moves it) and reused by later
runs. The flytekit versions of the workloads are scripts in ``benchmarks/flytekit_peer/``
that run there as subprocesses and print one JSON object on their last line.

    python -m benchmarks.peer        # create (or check) the peer venv and say where it is
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLYTEKIT_VERSION = "1.16.31"
PACKAGES = (f"flytekit=={FLYTEKIT_VERSION}", "pandas", "pyarrow")
SCRIPTS = Path(__file__).resolve().parent / "flytekit_peer"
INSTALL_TIMEOUT_S = 1200


def venv_path() -> Path:
    default = Path.home() / ".cache" / "flyray-bench" / f"flytekit-{FLYTEKIT_VERSION}"
    return Path(os.environ.get("FLYRAY_BENCH_PEER_VENV") or default).expanduser()


@dataclass(frozen=True)
class Peer:
    """The peer venv's interpreter, or why there is none (``python`` is then None)."""

    python: Path | None
    reason: str = ""

    @property
    def bin(self) -> Path:
        assert self.python is not None
        return self.python.parent


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[:300]


def ensure_peer(install: bool = True) -> Peer:
    """The cached peer venv, created first when missing and ``install`` is true."""
    venv = venv_path()
    python = venv / "bin" / "python"
    marker = venv / ".flyray-bench-ready"
    wanted = "\n".join(PACKAGES)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return Peer(python)
    if not install:
        return Peer(None, f"no flytekit venv at {venv} (run python -m benchmarks.peer)")
    print(f"creating the flytekit peer venv at {venv} (once; takes a few minutes) ...",
          file=sys.stderr, flush=True)
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return Peer(None, f"cannot create {venv.parent}: {e}")
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", *PACKAGES],
    ]
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return Peer(None, f"{' '.join(cmd[:4])} failed: {e}")
        if done.returncode != 0:
            return Peer(None, f"{' '.join(cmd[:4])} failed: {_tail(done.stderr or done.stdout)}")
    check = subprocess.run([str(python), "-c", "import flytekit"], capture_output=True,
                           text=True, check=False)
    if check.returncode != 0:
        return Peer(None, f"flytekit does not import: {_tail(check.stderr)}")
    marker.write_text(wanted)
    return Peer(python)


def run_script(peer: Peer, script: str, args: list[str], timeout: float,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``flytekit_peer/<script>`` in the peer venv; its last stdout line, parsed.

    Raises:
        PeerError: the script failed, timed out, or printed no JSON.
    """
    if peer.python is None:
        raise PeerError(peer.reason)
    full_env = {**os.environ, **(env or {}), "PATH": f"{peer.bin}:{os.environ.get('PATH', '')}"}
    full_env.pop("PYTHONPATH", None)  # the peer must not see Flyray's tree
    try:
        done = subprocess.run([str(peer.python), str(SCRIPTS / script), *args],
                              capture_output=True, text=True, timeout=timeout, env=full_env,
                              cwd=SCRIPTS, check=False)
    except subprocess.TimeoutExpired:
        raise PeerError(f"{script} ran past {timeout:.0f} s") from None
    if done.returncode != 0:
        raise PeerError(f"{script} exited {done.returncode}: {_tail(done.stderr)}")
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise PeerError(f"{script} printed no JSON: {_tail(done.stdout + done.stderr)}") from None
    return result


class PeerError(RuntimeError):
    """A flytekit peer measurement could not be made; the message says why."""


def seconds(peer: Peer | None, script: str, args: list[str], timeout: float,
            env: dict[str, str] | None = None) -> dict[str, list[float]] | str:
    """The ``seconds`` lists a peer script reports, or why there are none.

    ``peer`` None means the run was asked to leave flytekit out.
    """
    if peer is None:
        return "--no-flytekit"
    try:
        result = run_script(peer, script, args, timeout, env)
    except PeerError as e:
        return str(e)
    times = result.get("seconds")
    if not isinstance(times, dict) or not times:
        return f"{script} reported no seconds"
    return {str(k): [float(v) for v in vs] for k, vs in times.items()}


def main() -> None:
    peer = ensure_peer()
    if peer.python is None:
        print(f"flytekit peer unavailable: {peer.reason}")
        sys.exit(1)
    probe = [str(peer.python), "-c", "import flytekit; print(flytekit.__version__)"]
    version = subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip()
    print(f"flytekit {version} ready in {venv_path()}")


if __name__ == "__main__":
    main()
