"""Render a local HTML file in a real headless Chromium, for tests.

Playwright drives Debian's Chromium (`make browser`, scripts/install_chromium.sh); its own
browser download is not used. A missing browser is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Error, Page, Request, sync_playwright

CHROMIUM = os.environ.get("SCOREHOUSE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium opens connections of its own (component
# updates, sync, QUIC probes), which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


class ChromiumNotFound(RuntimeError):
    """The browser the tests render in is not installed."""


@dataclass
class Opened:
    """A page loaded from a file, with what it reported while loading."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def network_requests(self) -> list[str]:
        """Every request but the page's own file and data: URLs (a report should make none)."""
        return [u for u in self.requests if u != self.url and not u.startswith("data:")]


@contextmanager
def open_page(path: Path, width: int = 1280, height: int = 900) -> Iterator[Opened]:
    """Open `path` (file://) in headless Chromium and yield it once loaded.

    Console messages of type error and uncaught exceptions land in `console_errors`, every
    request's URL in `requests`. Playwright gives each launch a fresh user data directory.
    """
    executable = Path(CHROMIUM)
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        raise ChromiumNotFound(
            f"Chromium not found at {CHROMIUM}: run `make browser` (scripts/install_chromium.sh)"
        )
    url = Path(path).resolve().as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(TIMEOUT_MS)
            opened = Opened(page=page, url=url)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    opened.console_errors.append(message.text)

            def on_page_error(error: Error) -> None:
                opened.console_errors.append(f"uncaught {error.name}: {error.message}")

            def on_request(request: Request) -> None:
                opened.requests.append(request.url)

            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            page.on("request", on_request)
            page.goto(url, wait_until="load")
            yield opened
        finally:
            browser.close()


def screenshot(opened: Opened, path: Path, full_page: bool = True) -> Path:
    """A PNG of the opened page (the whole scrollable page unless full_page=False)."""
    opened.page.screenshot(path=str(path), full_page=full_page)
    return path
