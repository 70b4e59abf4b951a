"""Shared fixtures: one local Ray cluster for the whole session, a private Flyray home,
blob stores (a local directory, and S3 served by moto's server on localhost), catalog
databases (SQLite files, and a PostgreSQL server started from its binaries)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

# Before Ray is imported anywhere: no token auth, no usage reporting, a private home.
# Runs in test processes (and the `flyray` commands they start) never leave a warm local
# runtime behind: without a cluster they start a private one, as FLYRAY_LOCAL_RUNTIME=0
# says; tests of the warm runtime turn it on for their own commands.
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
SESSION_HOME = tempfile.mkdtemp(prefix="flyray-home-")
os.environ["FLYRAY_HOME"] = SESSION_HOME
os.environ["FLYRAY_LOCAL_RUNTIME"] = "0"
os.environ.pop("RAY_ADDRESS", None)
os.environ.pop("FLYRAY_RAY_ADDRESS", None)

import psycopg  # noqa: E402
import ray  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from engine.catalog.blob import StorageConfig  # noqa: E402

# Logical resources of the shared cluster: more CPUs than the machine has, so that
# tests of parallelism can run several sleeping nodes at once, and one logical GPU.
SHARED_CPUS = 4
SHARED_GPUS = 1


def _start_shared() -> None:
    # "local": a cluster of the session's own, even while other Ray clusters run on the
    # machine (without an address, Ray joins the one it recorded last in /tmp/ray).
    ray.init(
        address="local",
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
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


# --- Blob stores -------------------------------------------------------------------------

# moto accepts any credentials; they are passed explicitly so no AWS_* variable is needed.
S3_REGION = "us-east-1"
S3_ACCESS_KEY_ID = "testing"
S3_SECRET_ACCESS_KEY = "testing"


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server: a real HTTP endpoint on localhost."""

    endpoint_url: str

    def client(self) -> Any:
        """A boto3 S3 client for this server (buckets are made with it, not s3fs: s3fs's
        mkdir sends a location constraint that moto rejects)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY_ID,
            aws_secret_access_key=S3_SECRET_ACCESS_KEY,
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server in a thread of this process, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(endpoint_url=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[StorageConfig]:
    """A fresh, empty bucket on the moto server; the config's root is a prefix in it.

    The bucket and everything in it are deleted afterwards.
    """
    client = s3_server.client()
    bucket = f"flyray-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield StorageConfig(
            root=f"s3://{bucket}/flyray",
            s3_endpoint_url=s3_server.endpoint_url,
            s3_region=S3_REGION,
            s3_access_key_id=S3_ACCESS_KEY_ID,
            s3_secret_access_key=S3_SECRET_ACCESS_KEY,
        )
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def local_store_config(tmp_path: Path) -> StorageConfig:
    """A blob store in a directory of the test's own."""
    return StorageConfig(root=f"file://{tmp_path}/blobs")


# --- Catalog databases -------------------------------------------------------------------


def _missing(reason: str) -> NoReturn:
    """Skip for lack of a dependency; under CI (CI=true) a missing dependency fails instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing test dependency is an error)")
    pytest.skip(reason)


def _postgres_bindir() -> Path | None:
    """The directory of PostgreSQL's server binaries (initdb, pg_ctl), newest version first."""

    def major(path: str) -> int:
        version = Path(path).parents[1].name
        return int(version) if version.isdigit() else 0

    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major, reverse=True)
    if installed:
        return Path(installed[0]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:  # a PostgreSQL installed elsewhere (Homebrew, a source build)
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                               check=False)
        bindir = Path(found.stdout.strip())
        if found.returncode == 0 and (bindir / "initdb").is_file():
            return bindir
    return None


def _as_postgres(argv: list[str], owner: str | None) -> list[str]:
    """The server refuses to run as root: there, run its binaries as the ``postgres`` user."""
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


def _admin_connect(url: str) -> Any:
    """An autocommit psycopg connection to the server's ``postgres`` database."""
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                           dbname="postgres", autocommit=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server started from its binaries in a temp dir, for the whole session.

    Yields the SQLAlchemy URL of a database on it. Without the binaries the tests that
    need it skip with the reason (fail under CI).
    """
    bindir = _postgres_bindir()
    if bindir is None:
        _missing("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb "
                 "or pg_config --bindir); install PostgreSQL to run these tests")
    owner: str | None = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            _missing("running as root, PostgreSQL must run as another user, and runuser "
                     "is not installed")
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root, PostgreSQL must run as the 'postgres' user, "
                     "which does not exist")
        owner = "postgres"
    base = tempfile.mkdtemp(prefix="flyray-pg-")
    if owner:
        os.chown(base, user.pw_uid, user.pw_gid)
    data = os.path.join(base, "data")
    port = free_port()
    initdb = subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                      "--no-sync"], owner),
        capture_output=True, text=True, check=False)
    if initdb.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {initdb.stderr or initdb.stdout}")
    options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
    pg_ctl = str(bindir / "pg_ctl")
    start = subprocess.run(
        _as_postgres([pg_ctl, "-D", data, "-o", options, "-l", os.path.join(base, "log"),
                      "-w", "start"], owner),
        capture_output=True, text=True, check=False)
    try:
        if start.returncode != 0:
            log = Path(base, "log").read_text() if Path(base, "log").exists() else ""
            pytest.fail(f"PostgreSQL did not start: {start.stderr or start.stdout}\n{log}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/flyray"
        with _admin_connect(url) as conn:
            conn.execute("CREATE DATABASE flyray")
        yield url
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], owner),
                       capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A new, empty database on the server of ``server_url``; returns its URL."""
    name = f"catalog_{uuid.uuid4().hex[:12]}"
    with _admin_connect(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url``, closing the connections Ray workers still hold to it."""
    with _admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty data catalog: a SQLite file of the test's own, or a fresh database on the
    session's PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    url = create_database(request.getfixturevalue("postgres_server"))
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def closed_endpoint() -> Iterator[str]:
    """An http endpoint on localhost that refuses connections: the port is bound (so no
    one else takes it during the test) but never listened on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
