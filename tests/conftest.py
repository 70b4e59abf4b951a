"""Shared fixtures: one local Ray cluster for the whole session, a private Flyray home."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

# Before Ray is imported anywhere: no token auth, no usage reporting, a private home.
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["FLYRAY_HOME"] = tempfile.mkdtemp(prefix="flyray-home-")
os.environ.pop("RAY_ADDRESS", None)
os.environ.pop("FLYRAY_RAY_ADDRESS", None)

import ray  # noqa: E402

# Logical resources of the shared cluster: more CPUs than the machine has, so that
# tests of parallelism can run several sleeping nodes at once, and one logical GPU.
SHARED_CPUS = 4
SHARED_GPUS = 1


def _start_shared() -> None:
    ray.init(
        num_cpus=SHARED_CPUS,
        num_gpus=SHARED_GPUS,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="WARNING",
    )


@pytest.fixture
def ray_cluster() -> Iterator[None]:
    """The session's shared local cluster; started on first use, reused after.

    It is (re)started lazily because tests marked ``fresh_cluster`` shut it down to
    run their own cluster; they run last (see ``pytest_collection_modifyitems``).
    """
    if not ray.is_initialized():
        _start_shared()
    yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests with their own cluster run after all others, so the shared one starts once."""
    items.sort(key=lambda item: item.get_closest_marker("fresh_cluster") is not None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if ray.is_initialized():
        ray.shutdown()
