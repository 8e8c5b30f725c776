"""Accessibility: every form control of every page has a label, and the main flows work with the
keyboard alone (Tab to a control, Enter to use it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.console.conftest import Pages
from tests.console.test_console_login import focus_by_tab
from tests.console.world import small_world
from tests.support.ecs import bindings

CONSOLE = "/_ecsram/console"
PAGES = ("accounts", "instances", "roles", "users", "trail", "faults")

UNLABELLED = """() => {
  const name = (el) => (el.getAttribute("aria-label") || "").trim()
    || Array.from(el.labels || []).map((l) => l.innerText.trim()).join(" ")
    || (el.tagName === "BUTTON" ? el.innerText.trim() : "");
  return Array.from(document.querySelectorAll("input, select, textarea, button"))
    .filter((el) => el.type !== "hidden" && !name(el))
    .map((el) => el.outerHTML.slice(0, 120));
}"""


def test_every_control_of_every_page_has_a_label(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    small_world(sdk, instances=2)
    sdk.new_user(name="a11y-user")
    page = pages.open(server.url)
    for name in PAGES:
        page.goto(f"{CONSOLE}/{name}?account={sdk.account_id}")
        controls = page.locator("input:not([type=hidden]), select, button").count()
        assert controls > 0, name
        assert page.evaluate(UNLABELLED) == [], name
        assert page.locator("h1").count() == 1, name
        assert page.get_attribute("html", "lang") == "en"


def press_enter_on(page: Any, selector: str) -> None:
    """Tab to a link or a form's button and press Enter: the page it leads to has loaded after."""
    focus_by_tab(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_attach_trail_detach_by_keyboard_alone(server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path) -> None:
    ids = small_world(sdk, instances=1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")

    press_enter_on(page, f'tr[data-instance="{ids[0]}"] form[action$="/attach"] button')
    assert "attached console-app" in page.locator(".flash").inner_text()
    assert bindings(sdk, ids) == {ids[0]: "console-app"}

    press_enter_on(page, 'nav[aria-label="Pages"] a[href*="/trail"]')
    focus_by_tab(page, "#trail-action")
    page.keyboard.type("AttachInstanceRamRole")
    page.keyboard.press("Enter")
    page.wait_for_url("**action=AttachInstanceRamRole**")
    assert ids[0] in page.locator("#trail-rows").inner_text()

    press_enter_on(page, 'nav[aria-label="Pages"] a[href*="/instances"]')
    press_enter_on(page, f'tr[data-instance="{ids[0]}"] form[action$="/detach"] button')
    assert "detached the role of" in page.locator(".flash").inner_text()
    assert bindings(sdk, ids) == {}

    press_enter_on(page, f'tr[data-instance="{ids[0]}"] form[action$="/stop"] button')
    assert f"stopped {ids[0]}" in page.locator(".flash").inner_text()


def test_a_skip_link_leads_past_the_navigation(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/accounts?account={sdk.account_id}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator("a.skip").is_visible()
