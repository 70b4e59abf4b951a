"""The fault suite's environment, one for the whole package: its own two-node cluster
(so its tests run with the other ``fresh_cluster`` tests, after the shared cluster's),
PostgreSQL and S3 servers of its own, started on first use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.environment import ChaosEnv


@pytest.fixture(scope="package")
def chaos_env() -> Iterator[ChaosEnv]:
    env = ChaosEnv()
    try:
        yield env
    finally:
        env.close()
