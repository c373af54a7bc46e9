"""Playwright driving Debian's Chromium (installed by .ci/run; Playwright's own download is not used)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("VETS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        # Skipped locally without the browser; in CI's real-services run any skip fails the run.
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage", "--lang=zh-CN"],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser):  # type: ignore[no-untyped-def]
    # 1366×768: the smallest desk screen the console must work on.
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    # Confirmation dialogs are accepted, and their text kept so a test can check who or how many they name.
    page.dialogs = []  # type: ignore[attr-defined]

    async def _accept(dialog) -> None:  # type: ignore[no-untyped-def]
        page.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        await dialog.accept()

    page.on("dialog", lambda dialog: asyncio.ensure_future(_accept(dialog)))
    yield page
    await context.close()


def shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
