"""Browser-test fixtures: Debian's Chromium driven by Playwright, users made through the forms.

The server comes from the `live_server` fixture in tests/conftest.py. Browser tests exercise the
web client, not the storage stack, so they run on SQLite with the in-process broker only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.conftest import LiveServer, Stack
from tests.services import services_required

CHROMIUM = os.environ.get("BWT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct horse battery"

expect.set_options(timeout=10_000)


@pytest.fixture
def stack(tmp_path: Path, redis_prefix: str) -> Stack:
    return Stack("sqlite-memory", f"sqlite+aiosqlite:///{tmp_path / 'bwt.db'}", None, redis_prefix)


# Module scope, not session: the sync API keeps an event loop running in this thread while it
# lives, and the asyncio tests of other modules must not find one.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set BWT_CHROMIUM)"
        if services_required():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class BrowserUser:
    """A registered user with their own browser context (cookies) and a first page."""

    username: str
    display_name: str
    context: BrowserContext
    page: Page
    base_url: str
    errors: list[str]

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def wait_connected(self, page: Page | None = None) -> None:
        expect((page or self.page).locator("#connection-status")).to_have_attribute(
            "data-state", "open"
        )

    def join(self, slug: str) -> None:
        """Join through the network list, as a person would."""
        page = self.open("/")
        item = page.locator(f'[data-network-slug="{slug}"]')
        if item.get_attribute("data-member") != "true":
            item.locator('[data-action="join"]').click()
        expect(item).to_have_attribute("data-member", "true")
        expect(item.locator('[data-action="leave"]')).to_be_visible()


MakeUser = Callable[..., BrowserUser]


@pytest.fixture
def make_user(browser: Browser, live_server: LiveServer) -> Iterator[MakeUser]:
    """Register a user through /register in a fresh browser context: ``make_user("anna")``;
    ``admin=True`` makes an administrator with `bwt create-user --admin` and logs them in."""
    made: list[BrowserUser] = []

    def make(
        name: str,
        display_name: str | None = None,
        organisation: str = "Gemeente Utrecht",
        viewport: dict[str, int] | None = None,
        admin: bool = False,
    ) -> BrowserUser:
        username = f"{name}-{uuid.uuid4().hex[:6]}"
        display_name = display_name or name.title()
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport or {"width": 1200, "height": 800}
        )
        page = context.new_page()
        user = BrowserUser(username, display_name, context, page, live_server.url, [])
        page.on("pageerror", lambda error: user.errors.append(str(error)))
        made.append(user)
        if admin:
            # Administrators are made on the command line (README), then log in.
            subprocess.run(
                [sys.executable, "-m", "chat", "create-user", "--admin",
                 "--username", username, "--display-name", display_name,
                 "--email", f"{username}@example.nl", "--password", PASSWORD,
                 "--organisation", organisation, "--organisation-type", "gemeente"],
                cwd=live_server.workdir, env=live_server.environment(), check=True,
                capture_output=True,
            )  # fmt: skip
            page.goto(live_server.url + "/login")
            page.fill("#login", username)
            page.fill("#password", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            expect(page.locator("#network-list")).to_be_visible()
            return user
        page.goto(live_server.url + "/register")
        page.fill("#display_name", display_name)
        page.fill("#username", username)
        page.fill("#email", f"{username}@example.nl")
        page.fill("#password", PASSWORD)
        page.select_option("#role", "toezichthouder")
        page.fill("#organisation_name", organisation)
        page.select_option("#organisation_type", "gemeente")
        page.click("form[action='/register'] button[type=submit]")
        expect(page.locator("#network-list")).to_be_visible()
        return user

    yield make
    for user in made:
        user.context.close()
    errors = [error for user in made for error in user.errors]
    assert not errors, f"uncaught errors in the pages: {errors}"
