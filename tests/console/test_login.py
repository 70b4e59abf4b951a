"""The console's login: with a token set, every page asks for it once (an HttpOnly,
SameSite=Strict session cookie), a wrong token is refused, and forms refuse requests
without this browser's CSRF token."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.console.conftest import MakeConsole


def test_a_page_asks_for_the_token_once(make_console: MakeConsole, page: Any) -> None:
    console = make_console(admin_token="s3cret-token")
    page.goto(console.url("/console/"))
    expect(page.get_by_test_id("login")).to_be_visible()
    page.get_by_test_id("login-token").fill("wrong")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("not the admin server's token")
    page.get_by_test_id("login-token").fill("s3cret-token")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("projects")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "flyray_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "s3cret-token" not in cookie["value"]
    page.goto(console.url("/console/projects/flytesnacks/domains/development/executions"))
    expect(page.get_by_test_id("login")).to_have_count(0)


def test_pages_and_forms_without_a_session_are_refused(make_console: MakeConsole) -> None:
    console = make_console(admin_token="s3cret-token")
    with httpx.Client(base_url=console.endpoint) as http:
        page = http.get("/console/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
        assert http.get("/console/", headers={"accept": "application/json"}).status_code == 401
        forged = http.post("/console/login", data={"token": "s3cret-token", "csrf": "x"})
        assert forged.status_code == 403
        http.get("/console/login")  # sets this client's CSRF cookie
        csrf = http.cookies["flyray_csrf"]
        cross = http.post("/console/login", data={"token": "s3cret-token", "csrf": csrf},
                          headers={"origin": "http://evil.example"})
        assert cross.status_code == 403 and "another site" in cross.text
        ok = http.post("/console/login", data={"token": "s3cret-token", "csrf": csrf})
        assert ok.status_code == 303
        assert http.get("/console/", headers={"accept": "text/html"}).status_code == 200
