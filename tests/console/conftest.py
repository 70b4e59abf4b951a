"""Fixtures of the console's tests: the admin app served over HTTP on 127.0.0.1 (uvicorn
in a thread, a SQLite store of the test's own, no Ray), and Debian's Chromium driven by
Playwright: one browser for the session, a fresh context per test, every request leaving
127.0.0.1 refused and reported, and a screenshot saved when a test fails."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from engine.config import Settings
from serve.app import create_app
from serve.control.launching import Launcher
from serve.store import AdminStore
from tests.served import serving
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"
# Flags for a machine without a network or a screen (see docs/console.md).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = Path(os.environ.get("FLYRAY_TEST_ARTIFACTS", "test-artifacts"))


@dataclass
class ConsoleServer:
    """The admin app (API and console) served at ``endpoint`` over ``store``."""

    endpoint: str
    store: AdminStore
    settings: Settings
    app: Any

    def url(self, path: str) -> str:
        return self.endpoint + path


@contextlib.contextmanager
def serve_console(home: Path, launcher: Launcher | None = None,
                  **settings: Any) -> Iterator[ConsoleServer]:
    """Serve the admin app until closed, over a SQLite store under ``home``."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    config_settings = Settings(home=home, admin_endpoint=endpoint, **settings)
    store = AdminStore(f"sqlite:///{home}/admin.db")
    app = create_app(config_settings, store=store, launcher=launcher)
    try:
        with serving(app, port, "console"):
            yield ConsoleServer(endpoint, store, config_settings, app)
    finally:
        store.close()


MakeConsole = Callable[..., ConsoleServer]


@pytest.fixture
def make_console(tmp_path: Path) -> Iterator[MakeConsole]:
    """Starts console servers with some settings changed (each under its own home)."""
    with contextlib.ExitStack() as stack:
        count = 0

        def make(launcher: Launcher | None = None, **settings: Any) -> ConsoleServer:
            nonlocal count
            count += 1
            home = tmp_path / f"console-{count}"
            home.mkdir()
            return stack.enter_context(serve_console(home, launcher, **settings))

        yield make


@pytest.fixture
def console(make_console: MakeConsole) -> ConsoleServer:
    return make_console()


# --- the browser ------------------------------------------------------------------------


# Package-scoped, not session-scoped: Playwright's sync API keeps an event loop running
# on this thread while it is open, and later tests (asyncio.run in @eager) need none.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, for the console's tests."""
    if not shutil.which(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Outside:
    """Requests the page tried to send beyond 127.0.0.1 (each refused)."""

    urls: list[str] = field(default_factory=list)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context. Every request to a host other than 127.0.0.1
    is refused and fails the test; a failing test leaves a screenshot in
    ``test-artifacts/`` (FLYRAY_TEST_ARTIFACTS)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    outside = Outside()

    def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1" or \
                r.request.url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            outside.urls.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.outside = outside
    try:
        yield page
    finally:
        if request.node.stash.get(_FAILED, False):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"),
                                full_page=True)
        context.close()
    assert not outside.urls, f"the page sent requests beyond 127.0.0.1: {outside.urls}"
