"""Debian's Chromium, headless, driven by Playwright: nothing downloads a browser.

Each panel opened here is its own browser with a fresh profile directory, so two roles
signed in side by side share no cookie, and closing the panel ends the browser.
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
]
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "panel"


def require_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (Debian package chromium)")


class Panels:
    """Opens panels (browser pages) against one station; closes every one at the end."""

    def __init__(self, playwright: Any, profiles: Path, base_url: str) -> None:
        self.playwright = playwright
        self.profiles = profiles
        self.base_url = base_url
        self.contexts: list[Any] = []
        self.page_errors: list[str] = []

    def open(self, name: str, viewport: dict[str, int] = DESK) -> Any:
        context = self.playwright.chromium.launch_persistent_context(
            str(self.profiles / name), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport=viewport, locale="zh-CN",
            timezone_id="Asia/Shanghai", service_workers="block",
        )
        self.contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.goto(self.base_url + "/")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@contextmanager
def panels(profiles: Path, base_url: str) -> Iterator[Panels]:
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as playwright:
        opened = Panels(playwright, profiles, base_url)
        try:
            yield opened
        finally:
            opened.close()


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, token: str) -> None:
    page.locator("#token").fill(token)
    page.locator("#sign-in-button").click()
