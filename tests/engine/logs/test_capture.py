"""The capture in the process running an attempt, without Ray: the tee writes through,
threads the attempt started are routed to it, the root logger comes back as it was."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time

import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.errors import AttemptError, ErrorKind
from engine.logs.capture import capturing
from engine.logs.lines import Masker, format_lines, stamp
from engine.logs.store import LogStore, attempt_log_uri

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) (.*)$")


def _log(config: StorageConfig, uri: str) -> list[tuple[str, str]]:
    text = LogStore(BlobStore(config)).read(uri).text
    lines = [LINE.match(line) for line in text.splitlines()]
    assert all(lines), text
    return [(m.group(1), m.group(2)) for m in lines if m]


def test_an_attempt_logs_its_writes_and_records_and_writes_through(
        local_store_config: StorageConfig, capsys: pytest.CaptureFixture[str]) -> None:
    uri = attempt_log_uri(BlobStore(local_store_config), "f1", "n0", 1)
    root = logging.getLogger()
    level = root.level
    with capturing(local_store_config, uri, "execution=f1 node=n0 attempt=1"):
        print("hello")
        sys.stderr.write("oops\n")
        thread = threading.Thread(target=print, args=("from a thread",))
        thread.start()
        thread.join()
        logging.getLogger("tests.capture").info("info %s", "record")
        logging.getLogger("tests.capture").debug("left out")
    assert all(type(h).__name__ != "_Handler" for h in root.handlers)
    deadline = time.monotonic() + 5  # the level comes back once the flusher sees no log open
    while root.level != level and time.monotonic() < deadline:
        time.sleep(0.05)
    assert root.level == level
    print("after the attempt")  # not in its log
    out, err = capsys.readouterr()
    assert out == "hello\nfrom a thread\nafter the attempt\n" and err == "oops\n"
    assert _log(local_store_config, uri) == [
        ("FLYRAY", "execution=f1 node=n0 attempt=1"),
        ("OUT", "hello"), ("ERR", "oops"), ("OUT", "from a thread"),
        ("INFO", "tests.capture: info record"),
        ("FLYRAY", "attempt ended: SUCCEEDED"),
    ]


def test_a_failed_attempt_logs_its_error_and_outcome(local_store_config: StorageConfig) -> None:
    uri = attempt_log_uri(BlobStore(local_store_config), "f2", "n0", 1)
    with pytest.raises(AttemptError), capturing(local_store_config, uri, "header"):
        print("partial line", end="")
        raise AttemptError(ErrorKind.USER, "Traceback:\nValueError: bad", True, 0.0, 1.0)
    assert _log(local_store_config, uri)[1:] == [
        ("OUT", "partial line"), ("ERR", "Traceback:"), ("ERR", "ValueError: bad"),
        ("FLYRAY", "attempt ended: TIMED_OUT"),
    ]


def test_secret_values_are_masked_in_every_line() -> None:
    mask = Masker(["s3cr3t", "", "multi\nline-value"])
    line = format_lines("OUT", "a s3cr3t, multi and line-value\nagain s3cr3t", 0.0, mask)
    assert line.decode() == (f"{stamp(0.0)} OUT a ****, **** and ****\n"
                             f"{stamp(0.0)} OUT again ****\n")
    assert stamp(1733352314.1234) == "2024-12-04T22:45:14.123Z"


def test_a_quiet_successful_attempt_stores_nothing(local_store_config: StorageConfig) -> None:
    blobs = BlobStore(local_store_config)
    quiet, failed = attempt_log_uri(blobs, "f3", "n0", 1), attempt_log_uri(blobs, "f3", "n1", 1)
    with capturing(local_store_config, quiet, "header") as log:
        pass
    assert not log.spoke and not LogStore(blobs).exists(quiet)
    with pytest.raises(AttemptError), capturing(local_store_config, failed, "header") as log:
        raise AttemptError(ErrorKind.SYSTEM, "", False, 0.0, 1.0)
    assert log.spoke and _log(local_store_config, failed) == [
        ("FLYRAY", "header"), ("FLYRAY", "attempt ended: FAILED")]
