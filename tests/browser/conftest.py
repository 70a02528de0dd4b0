"""Browser fixtures: the app (API + UI) on a free local port over a fresh demo database, and headless Chromium.

Chromium is Debian's (/usr/bin/chromium, with fonts-noto-cjk for Chinese), driven by Playwright's Python
package; Playwright's own browser download is never used. Every request a page makes to anything but the
local server is blocked and fails the test: the UI must not leave the machine.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DEMO_YAML, ROOT, load_into

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DEMO_PASSWORD = "orderpilot-test"
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/|^(data|blob|about):")
UI_TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveApp:
    """The served app: its base URL, database URL and settings."""

    base_url: str
    db_url: str
    settings: Any


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM}: apt-get install -y chromium fonts-noto-cjk"
        )
    pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright Python package")
    return CHROMIUM


@pytest.fixture(scope="module")
def live_app(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """uvicorn in a thread serving create_app (UI mounted) on a fresh demo database with the demo users."""
    import uvicorn

    from api.app import create_app
    from data_model.settings import Settings
    from tools.auth import ensure_demo_users
    from tools.context import dispose_engine, open_context

    path = tmp_path_factory.mktemp("ui") / "demo.sqlite"
    url = f"sqlite:///{path}"
    load_into(url, DEMO_YAML)
    with open_context(url) as ctx:
        ensure_demo_users(ctx.session)
    settings = Settings(
        database_url=url,
        ui_demo_password=DEMO_PASSWORD,
        llm_base_url="",
        llm_api_key="",
        assistant_backend="offline",
        chroma_path="",
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, ui=True), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the UI server did not start")
        time.sleep(0.05)
    yield LiveApp(base_url=f"http://127.0.0.1:{port}", db_url=url, settings=settings)
    server.should_exit = True
    thread.join(timeout=15)
    dispose_engine(url)


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    """Headless Chromium; each launch runs on a fresh temporary profile of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Visit:
    """A page on the app, with the requests it tried to send off the machine."""

    page: Any
    app: LiveApp
    name: str
    external: list[str] = field(default_factory=list)

    def shot(self, label: str) -> Path:
        """Save a full-page screenshot under artifacts/screenshots/ (gitignored) and return its path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target

    def open(self) -> None:
        """Load the app and wait for the page's load event (language, demo accounts) to have run."""
        self.page.goto(self.app.base_url + "/")
        self.page.locator("#op-username input").wait_for(timeout=UI_TIMEOUT_MS)
        self.page.locator("#op-demo-hint", has_text="demo-").wait_for(timeout=UI_TIMEOUT_MS)

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.page.locator("#op-username input").fill(username)
        self.page.locator("#op-password input").fill(password)
        self.page.locator("#op-signin-button").click()

    def sign_in_ok(self, username: str) -> None:
        self.sign_in(username)
        self.page.locator("#op-home-figures .op-kpi").first.wait_for(timeout=UI_TIMEOUT_MS)

    def sign_out(self) -> None:
        self.page.locator("#op-header button", has_text=re.compile("退出登录|Sign out")).click()
        self.page.locator("#op-username input").wait_for(timeout=UI_TIMEOUT_MS)

    def tab(self, tab_id: str) -> None:
        """Open a top-level tab by its id (home, chat, proposals, orders, planning, costs, records)."""
        index = ["home", "chat", "proposals", "orders", "planning", "costs", "records"].index(tab_id)
        self.page.locator("#op-tabs button[role=tab]").nth(index).click()


@pytest.fixture
def visit(browser: Any, live_app: LiveApp, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh browser context (Chinese locale) on the app; fails if the page reached beyond the machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    current = Visit(page=page, app=live_app, name=request.node.name)

    def guard(route: Any) -> None:
        url = route.request.url
        if LOCAL.match(url):
            route.continue_()
        else:
            current.external.append(url)
            route.abort()

    page.route("**/*", guard)
    yield current
    context.close()
    assert current.external == [], f"the page tried to reach outside the machine: {current.external}"
