"""A real browser for the console's tests: Debian's chromium, driven headless by Playwright.

Every page the browser asks for is checked: a request to anything but the ecsram server under
test fails the test (the console must fetch nothing from the network). Screenshots go to
``artifacts/console/`` in the checkout (git-ignored), for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("ECSRAM_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "console"

sync_api = pytest.importorskip("playwright.sync_api")


# Per module, not per session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and later tests of the same worker (asyncio.run) must not find one.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (.ci/run installs Debian's chromium package)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # As root (CI) chromium needs --no-sandbox; /dev/shm may be small in containers.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


class Pages:
    """New browser contexts (separate cookie jars) that may fetch from one origin only."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.foreign: list[str] = []

    def open(self, origin: str) -> Any:
        context = self.browser.new_context(base_url=origin, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)

        def guard(route: Any) -> None:
            if route.request.url.startswith(origin + "/"):
                route.continue_()
            else:
                self.foreign.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        self.contexts.append(context)
        return context.new_page()


@pytest.fixture
def pages(browser: Any) -> Iterator[Pages]:
    opened = Pages(browser)
    yield opened
    for context in opened.contexts:
        context.close()
    assert not opened.foreign, f"the console fetched from beyond its server: {opened.foreign}"


@pytest.fixture(scope="session")
def shots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def screenshot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
