"""Real servers the tests (and the fault suite's script) start on 127.0.0.1: PostgreSQL
from its binaries in a temp directory, and moto's S3 server in a thread.

Plain classes with no pytest in them, so ``python -m benchmarks.chaos`` starts the same
servers as the fixtures of ``tests/conftest.py`` and ``tests/chaos/``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import make_url


class ServerUnavailable(RuntimeError):
    """A server cannot be started here; the message says what is missing."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bindir() -> Path | None:
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


def admin_connect(url: str) -> Any:
    """An autocommit psycopg connection to the server's ``postgres`` database."""
    import psycopg

    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                           dbname="postgres", autocommit=True)


class PostgresServer:
    """A PostgreSQL server of its own in a temp directory, listening on 127.0.0.1 only.

    ``url`` is the SQLAlchemy URL of its database ``flyray``. :meth:`stop` takes pg_ctl's
    shutdown mode, so a fault test stops it as a crash would (``immediate``) and
    :meth:`start` brings it back on the same port with the same data.

    ``durable``: acknowledged commits survive a crash of the server (its default). The
    tests' shared server runs with ``synchronous_commit=off`` instead, which is faster
    and safe for as long as nobody crashes it; the fault suite's is durable.
    """

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        bindir = postgres_bindir()
        if bindir is None:
            raise ServerUnavailable(
                "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb or "
                "pg_config --bindir); install PostgreSQL to run these tests")
        self.owner: str | None = None
        uid_gid: tuple[int, int] | None = None
        if os.geteuid() == 0:  # the server refuses to run as root
            if shutil.which("runuser") is None:
                raise ServerUnavailable("running as root, PostgreSQL must run as another "
                                        "user, and runuser is not installed")
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable("running as root, PostgreSQL must run as the "
                                        "'postgres' user, which does not exist") from None
            self.owner, uid_gid = "postgres", (user.pw_uid, user.pw_gid)
        self.bindir = bindir
        self.base = tempfile.mkdtemp(prefix="flyray-pg-")
        if uid_gid:
            os.chown(self.base, *uid_gid)
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/flyray"
        initdb = self._run(str(bindir / "initdb"), "-D", self.data, "-A", "trust",
                           "-U", "postgres", "--no-sync")
        if initdb.returncode != 0:
            shutil.rmtree(self.base, ignore_errors=True)
            raise ServerUnavailable(f"initdb failed: {initdb.stderr or initdb.stdout}")
        try:
            self.start()
            with admin_connect(self.url) as conn:
                conn.execute("CREATE DATABASE flyray")
        except BaseException:
            self.close()
            raise

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", self.owner, "--", *argv] if self.owner else list(argv)
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def start(self) -> None:
        # fsync=off risks data only if the machine crashes, never a crash of the server.
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=300")
        if not self.durable:
            options += " -c synchronous_commit=off"
        log = os.path.join(self.base, "log")
        started = self._run(str(self.bindir / "pg_ctl"), "-D", self.data, "-o", options,
                            "-l", log, "-w", "start")
        if started.returncode != 0:
            text = Path(log).read_text() if Path(log).exists() else ""
            raise ServerUnavailable(
                f"PostgreSQL did not start: {started.stderr or started.stdout}\n{text}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean), or ``immediate`` (as a crash: no checkpoint,
        clients cut off at once)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def close(self) -> None:
        """Stop the server and remove its files."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class MotoServer:
    """moto's S3 server in a thread of this process on 127.0.0.1.

    Its buckets live in this process, so :meth:`stop` then :meth:`start` (on the same
    port) is an S3 outage that loses nothing, as a restarted real S3 endpoint would.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self.start()

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port,
                                          verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
