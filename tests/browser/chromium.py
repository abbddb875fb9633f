"""Debian's Chromium, headless, driven by Playwright: nothing downloads a browser.

One Chromium per test module (``chromium()``); each panel a test opens is a fresh
browser context (its own cookies and storage), so two roles signed in side by side
share nothing, and a test's contexts are closed when it ends.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "panel"

#: Counts what the page does with the Web Audio API and notifications, so a test can
#: check that a sound really started (headless Chromium plays to no speaker).
ATTENTION_PROBE = """
window.__probe = { oscillators: 0, notifications: [] };
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__probe.oscillators += 1;
  return start.apply(this, args);
};
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    super(title, options);
    window.__probe.notifications.push({ title, body: options && options.body });
  }
};
"""


def require_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (Debian package chromium)")


@contextmanager
def chromium() -> Iterator[Any]:
    """One headless Chromium (for a module's tests)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Panels:
    """Opens panels (pages, each in its own context) against one station."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[Any] = []
        self.page_errors: list[str] = []

    def open(self, name: str, viewport: dict[str, int] = DESK, *,
             notifications: bool = False, own_clock: bool = False) -> Any:
        """A signed-out panel. ``own_clock``: the page's timers and clock run on
        Playwright's clock (in real time until a test moves it on with
        ``page.clock.fast_forward``: the officer's minutes without a word from the
        station, passed in an instant)."""
        context = self.browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
            service_workers="block", accept_downloads=True)
        if notifications:
            context.grant_permissions(["notifications"], origin=self.base_url)
        if own_clock:
            context.clock.install()
        context.add_init_script(ATTENTION_PROBE)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: self.page_errors.append(f"{name}: {error}"))
        page.goto(self.base_url + "/")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@contextmanager
def panels(browser: Any, base_url: str) -> Iterator[Panels]:
    opened = Panels(browser, base_url)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.page_errors == [], "the panel's script threw"


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, token: str) -> None:
    page.locator("#token").fill(token)
    page.locator("#sign-in-button").click()
