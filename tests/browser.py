"""Shared plumbing for tests that drive SmartPay's pages in a real headless Chromium
(Playwright for Python with the system chromium, never a downloaded build): the app
served by uvicorn on a free port, the launch flags, and a clear failure when chromium is
missing (scripts/services.sh installs it for `make test`)."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from smartpay.app import create_app
from smartpay.config import Settings
from smartpay.kit.db import Database

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts,
# which this sandbox refuses; --no-sandbox because the tests run as root.
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
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings: Settings, database: Database) -> Iterator[str]:
    """The app on a real port (uvicorn in a thread); yields its base URL."""
    port = _free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A launched headless browser; fails the test (never skips) without chromium."""
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail(
            "chromium is not installed: run `apt-get install -y chromium` "
            "(scripts/services.sh does it for `make test`)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
