"""What the harness hands every workload: repeats, sizes, the cluster and the peer."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import peer as peer_venv
from benchmarks._report import Figure
from engine.config import Settings


@dataclass(frozen=True)
class RunConfig:
    """One workload's view of the run."""

    repeats: int  # timed runs of each variant, after a warm-up
    quick: bool  # smaller sizes, for a smoke run
    # The flytekit peer venv; None when the run leaves flytekit out (--no-flytekit).
    peer: peer_venv.Peer | None
    ray_address: str  # GCS address of the run's Ray cluster, for subprocesses to attach
    settings: Settings  # Flyray's settings: a throwaway home, the run's cluster

    def flytekit(self, script: str, args: list[str], timeout: float,
                 env: dict[str, str] | None = None,
                 repeats: int | None = None) -> dict[str, Figure] | str:
        """Figures (seconds) of a flytekit peer script by key, or why it was skipped."""
        count = self.repeats if repeats is None else repeats
        result = peer_venv.seconds(self.peer, script, [*args, "--repeats", str(count)],
                                   timeout, env)
        if isinstance(result, str):
            return result
        return {k: Figure.of(v, "s") for k, v in result.items()}
