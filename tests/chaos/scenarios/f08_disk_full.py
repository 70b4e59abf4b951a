"""F8. The blob store's disk full.

Inject: the local blob store's root is a tmpfs of 8 MiB (mounted here as root; where
mounting is not allowed, the ``blob.write`` failpoint raises ENOSPC on every write
instead, which the full variant also runs), and ``staged`` makes an output of 12 MiB.
Expected: the node's attempts fail as SYSTEM errors naming ENOSPC (the execution
FAILED, as the scenario expects); nothing partial is left or referenced, the admin
database (elsewhere) and the API answer throughout. Once space is freed (the tmpfs
grown, the failpoint disarmed), a RECOVER of the execution reuses the node that
succeeded and succeeds. Assert: I1–I8 (I4 and I6 strictly), the failure names ENOSPC,
the recovered execution re-ran only the failed nodes.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from engine import task, workflow
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import EXECUTIONS, Rig
from tests.chaos.workloads import blob, measure, step
from tests.serve.specs import DOMAIN, PROJECT

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F8", "blob store disk full", 120
SIZE = 12 << 20  # more than the 8 MiB tmpfs holds


@task(retries=0)
def blob_after(ledger: str, key: str, after: int, size: int) -> bytes:
    """``blob``'s ``size`` bytes, made once the node before (``after``) succeeded."""
    return blob.fn(ledger, key, size)  # type: ignore[no-any-return]


@workflow
def staged(ledger: str, key: str, size: int) -> int:
    """A small step (n0, its output inline), then ``size`` bytes (n1), measured (n2)."""
    first = step(ledger=ledger, key=key, label="a", x=0, seconds=0.0)
    return measure(ledger=ledger, key=key,
                   data=blob_after(ledger=ledger, key=key, after=first, size=size))


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    variants = []
    with _tmpfs(env.root / f"f8-{uuid.uuid4().hex[:8]}") as mounted:
        if mounted is not None:
            variants.append(("tmpfs", _on_tmpfs(env, mounted)))
    if mounted is None or full:
        variants.append(("failpoint", _on_failpoint(env)))
    verdict = Verdict()
    for name, found in variants:
        verdict.violations += [f"{name}: {v}" for v in found.violations]
        verdict.accepted += found.accepted
        verdict.succeeded += found.succeeded
        verdict.failed_as_expected += found.failed_as_expected
        verdict.reexecuted += found.reexecuted
    return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", len(variants),
                          verdict, duration_s=time.monotonic() - began,
                          notes="variants: " + ", ".join(name for name, _ in variants))


def _on_tmpfs(env: ChaosEnv, root: Path) -> Verdict:
    with env.rig_over({"blob_root": f"file://{root}"}, max_system_retries=1) as rig:
        return _fill_then_recover(rig, lambda: _mount("remount,size=64m", root))


def _on_failpoint(env: ChaosEnv) -> Verdict:
    with env.rig(max_system_retries=1) as rig:
        env.set_failpoints({"blob.write": {"action": "enospc", "times": 1000}})
        fired = []

        def disarm() -> None:  # disarming forgets the firings: count them first
            fired.append(env.fired("blob.write"))
            env.set_failpoints({})

        verdict = _fill_then_recover(rig, disarm)
        if not fired or not fired[0]:
            verdict.fail("F8", "the blob.write failpoint never fired")
        return verdict


def _fill_then_recover(rig: Rig, free_space: object) -> Verdict:
    """Run ``staged`` into the full disk, check how it failed, free space, recover."""
    ident = rig.register(staged)
    name = rig.launch(ident, f"f8-{uuid.uuid4().hex[:6]}", size=SIZE)
    phase = rig.wait([name], timeout_s=90).get(name)
    problems = []
    error = rig.execution(name)["closure"].get("error") or {}
    if phase != "FAILED" or error.get("kind") != "SYSTEM" or "ENOSPC" not in str(error):
        problems.append(f"{name} ended {phase} with {error}, not a SYSTEM error naming ENOSPC")
    listed = rig.client.get(f"{EXECUTIONS}/{PROJECT}/{DOMAIN}")
    if listed.status_code != 200:
        problems.append(f"the API answered {listed.status_code} while the disk was full")
    free_space()  # type: ignore[operator]
    again = rig.client.post(f"{EXECUTIONS}/recover", json={
        "id": {"project": PROJECT, "domain": DOMAIN, "name": name}, "name": f"{name}-r"})
    if again.status_code in (200, 201):
        rig.accept(f"{name}-r")
    else:
        problems.append(f"recover answered {again.status_code}: {again.text}")
    # The blob node ran 1 + max_system_retries times into the full disk, then once more.
    verdict = check_nothing_lost(rig, expect_failed=[name], max_extra_starts=2, timeout_s=90)
    verdict.violations += [f"F8: {p}" for p in problems]
    if again.status_code in (200, 201):
        if rig.ledger.starts().get((name, "a")) != 1:
            verdict.fail("F8", f"the recovery ran node a again: {rig.ledger.starts()}")
        phases = {n: node["phase"] for n, node in rig.nodes(f"{name}-r").items()}
        if phases.get("n0") != "RECOVERED":
            verdict.fail("F8", f"the recovery's node phases were {phases}")
    return verdict


def _mount(options: str, root: Path) -> bool:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(root)],
                          capture_output=True, check=False)
    return done.returncode == 0


@contextlib.contextmanager
def _tmpfs(root: Path) -> Iterator[Path | None]:
    """An 8 MiB tmpfs at ``root`` (None where it cannot be mounted), unmounted at exit."""
    root.mkdir(parents=True)
    mounted = _mount("size=8m", root)
    try:
        yield root if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)
        root.rmdir()
