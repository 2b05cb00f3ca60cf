"""The browser harness (browser.py): it renders in a real Chromium and reports what went wrong."""

from __future__ import annotations

import struct

import pytest

from . import browser
from .browser import open_page, screenshot


def _html(body: str) -> str:
    head = '<meta charset="utf-8"><title>t</title>'
    return f"<!doctype html>\n<html><head>{head}</head>\n<body>{body}</body></html>\n"


def _svg(rects: int) -> str:
    shapes = "".join(
        f'<rect x="{10 + 30 * i}" y="10" width="20" height="{20 + 5 * i}" fill="steelblue"/>'
        for i in range(rects)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">{shapes}</svg>'


def test_console_error_is_reported_and_no_request(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_html(_svg(2) + "<script>console.error('planted: 42 rows missing')</script>"))
    with open_page(page) as opened:
        assert opened.console_errors == ["planted: 42 rows missing"]
        assert opened.network_requests() == []
        assert opened.page.locator("svg rect").count() == 2


def test_uncaught_exception_is_reported(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_html("<script>throw new Error('kaput')</script>"))
    with open_page(page) as opened:
        assert opened.console_errors == ["uncaught Error: kaput"]


def test_remote_image_is_a_network_request(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_html('<img src="http://example.invalid/x.png" alt="remote">'))
    with open_page(page) as opened:
        assert opened.network_requests() == ["http://example.invalid/x.png"]
        assert opened.url in opened.requests  # the page's own file is seen, then left out


def test_clean_page_renders_and_screenshots(tmp_path):
    page = tmp_path / "report.html"
    rects = 7
    page.write_text(_html(_svg(rects) + '<div style="height: 1500px">tall</div>'))
    png = tmp_path / "report.png"
    with open_page(page, width=800, height=600) as opened:
        assert opened.console_errors == []
        assert opened.network_requests() == []
        assert opened.page.locator("svg rect").count() == rects
        assert screenshot(opened, png) == png
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width == 800
    assert height > 1500  # the whole page, not the 600px viewport


def test_missing_chromium_fails_not_skips(tmp_path, monkeypatch):
    missing = tmp_path / "no-chromium"
    monkeypatch.setattr(browser, "CHROMIUM", str(missing))
    page = tmp_path / "report.html"
    page.write_text(_html("x"))
    with pytest.raises(browser.ChromiumNotFound, match=r"run `make browser`"), open_page(page):
        pass
