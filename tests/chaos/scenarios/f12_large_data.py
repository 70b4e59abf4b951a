"""F12. Very large inputs and outputs.

Inject: an inline input over the API's body limit (with a Content-Length, and chunked
without one); a task output of 64 MiB (full: 256 MiB) of bytes; a list of 10,000
(full: 100,000) items. Expected: 413 for the oversized requests; large values offloaded
to the blob store and passed by URI, never held in database rows; the bytes arrive
whole (sha256 equal end to end). Assert: I1–I8, the 413s, sha256 equality, the largest
database row under 64 KiB; figures: the peak RSS of this process (the API's), the
largest row.
"""

from __future__ import annotations

import hashlib
import json
import resource
import time
from collections.abc import Iterator

from sqlalchemy import MetaData, create_engine, select

from engine import task, workflow
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import check_nothing_lost
from tests.chaos.ledger import commit, started
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import EXECUTIONS, Rig
from tests.serve.specs import DOMAIN, PROJECT

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F12", "very large inputs and outputs", 150
LIMIT = 1 << 20  # the API's body limit in this scenario (admin_max_request_bytes)
MAX_ROW = 64 << 10
DATA = "/api/v1/data"


def pattern(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)


@task(retries=0)
def produce(ledger: str, key: str, size: int, items: int) -> tuple[bytes, list[int]]:
    """``size`` bytes and a list of ``items`` numbers."""
    started(ledger, key, "produce")
    commit(ledger, key, "produce")
    return pattern(size), list(range(items))


@task(retries=0)
def digest(ledger: str, key: str, data: bytes, numbers: list[int]) -> str:
    """sha256 of the bytes, then of the list's decimal text, as the consumer got them."""
    started(ledger, key, "digest")
    commit(ledger, key, "digest")
    return hashlib.sha256(data).hexdigest() + ":" + \
        hashlib.sha256(",".join(map(str, numbers)).encode()).hexdigest()


@workflow
def big(ledger: str, key: str, size: int, items: int) -> str:
    data, numbers = produce(ledger=ledger, key=key, size=size, items=items)
    return digest(ledger=ledger, key=key, data=data, numbers=numbers)


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    size, items = (256 << 20, 100_000) if full else (64 << 20, 10_000)
    # Values above the offload threshold go by reference: at half the row bound, every
    # row stays under it however large the data (the default threshold is 1 MiB).
    with env.rig(admin_max_request_bytes=LIMIT, offload_threshold=MAX_ROW // 2) as rig:
        ident = rig.register(big)
        refused = _oversized(rig, ident)
        name = rig.launch(ident, "f12-big", size=size, items=items)
        verdict = check_nothing_lost(rig, timeout_s=300 if full else 120)
        for problem in refused:
            verdict.fail("F12", problem)
        expected = hashlib.sha256(pattern(size)).hexdigest() + ":" + \
            hashlib.sha256(",".join(map(str, range(items))).encode()).hexdigest()
        got = rig.client.get(f"{DATA}/executions/{PROJECT}/{DOMAIN}/{name}").json()
        if expected not in str(got.get("outputs")):
            verdict.fail("F12", f"sha256 differs end to end: {str(got)[:300]}")
        made = rig.client.get(f"{DATA}/node_executions/{PROJECT}/{DOMAIN}/{name}/n0").json()
        if "outputs.o0" not in made.get("offloaded", []):
            verdict.fail("F12", f"the {size >> 20} MiB output was not passed by URI: "
                         f"{str(made)[:300]}")
        largest = _largest_row(rig)
        if largest[0] >= MAX_ROW:
            verdict.fail("F12", f"a database row holds {largest[0]} bytes ({largest[1]}): "
                         "large values must go to the blob store")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return ScenarioResult(
        SCENARIO, TITLE, "full" if full else "smoke", 3, verdict,
        api_requests=3, duration_s=time.monotonic() - began,
        figures={"output_mib": size >> 20, "list_items": items, "peak_rss_mb": peak_mb,
                 "largest_row_bytes": largest[0]})


def _oversized(rig: Rig, ident: dict[str, object]) -> list[str]:
    """Inline inputs over the limit, sized and chunked: each must be answered 413."""
    body = rig.body(ident, "f12-too-big", size=1, items=1)
    body["inputs"]["padding"] = "x" * (2 * LIMIT)
    raw = json.dumps(body).encode()
    problems = []
    sized = rig.client.post(EXECUTIONS, content=raw,
                            headers={"content-type": "application/json"})

    def chunks() -> Iterator[bytes]:
        for at in range(0, len(raw), 64 << 10):
            yield raw[at:at + (64 << 10)]

    chunked = rig.client.post(EXECUTIONS, content=chunks(),
                              headers={"content-type": "application/json"})
    for what, answer in (("sized", sized), ("chunked", chunked)):
        if answer.status_code in (200, 201):
            rig.accept("f12-too-big")
        if answer.status_code != 413:
            problems.append(f"an oversized {what} body was answered {answer.status_code}, "
                            "not 413")
    return problems


def _largest_row(rig: Rig) -> tuple[int, str]:
    """The bytes of the admin database's largest row, and its table."""
    metadata = MetaData()
    engine = create_engine(rig.admin_url)
    largest = (0, "")
    try:
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in metadata.tables.values():
                for row in conn.execute(select(table)):
                    size = sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row)
                    largest = max(largest, (size, table.name))
    finally:
        engine.dispose()
    return largest
