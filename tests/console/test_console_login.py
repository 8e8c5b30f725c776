"""The console's login, on a server that asks for one (``--console-login``; beyond loopback it
always does): a root AccessKey, checked against the store, opens one account and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecsram.console.web import LOGIN_ATTEMPTS, LOGIN_REFILL_SECONDS
from ecsram.testing.accounts import create_account, set_access_key_status
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.console.conftest import Pages, screenshot
from tests.console.world import small_world
from tests.support.ecs import bindings

CONSOLE = "/_ecsram/console"


@pytest.fixture
def login_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_args=("--console-login", "--trail"))


def log_in(page: Any, key_id: str, secret: str) -> None:
    page.goto(f"{CONSOLE}/login")
    page.get_by_label("AccessKey ID").fill(key_id)
    page.get_by_label("AccessKey secret").fill(secret)
    page.get_by_role("button", name="Log in").click()


def test_login_opens_one_account_and_its_actions(login_server: ServerProcess, pages: Pages, shots: Path) -> None:
    mine = Sdk(login_server.endpoint, create_account(login_server.database_url), login_server.database_url)
    theirs = create_account(login_server.database_url)
    ids = small_world(mine, instances=1)
    page = pages.open(login_server.url)

    page.goto(f"{CONSOLE}/instances")
    assert page.url.endswith(f"{CONSOLE}/login")  # nothing without a login
    screenshot(page, shots, "login")

    log_in(page, mine.key.access_key_id, "x" * 30)
    assert page.locator(".flash.error").count() == 1 and page.url.endswith("/login")
    log_in(page, mine.key.access_key_id, mine.key.secret)
    assert mine.account_id in page.locator(".who").inner_text()
    assert theirs.account_id not in page.locator("main").inner_text()

    cookie = next(c for c in page.context.cookies() if c["name"] == "ecsram_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert mine.key.secret not in cookie["value"]
    assert mine.key.secret not in page.content()

    page.goto(f"{CONSOLE}/instances?account={theirs.account_id}")
    assert page.locator("h1").inner_text() == "Not allowed"

    page.goto(f"{CONSOLE}/instances")
    page.get_by_role("button", name=f"Attach the chosen role to {ids[0]}").click()
    assert "attached console-app" in page.locator(".flash").inner_text()
    assert bindings(mine, ids) == {ids[0]: "console-app"}

    page.goto(f"{CONSOLE}/trail?since=15m")
    assert "AttachInstanceRamRole" in page.locator("#trail-rows").inner_text()
    assert "login" not in page.url

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{CONSOLE}/instances")
    assert page.url.endswith(f"{CONSOLE}/login")


def test_a_logged_in_fault_rule_and_reset_use_the_signed_operations(login_server: ServerProcess, pages: Pages) -> None:
    mine = Sdk(login_server.endpoint, create_account(login_server.database_url), login_server.database_url)
    small_world(mine, instances=1)
    page = pages.open(login_server.url)
    log_in(page, mine.key.access_key_id, mine.key.secret)

    page.goto(f"{CONSOLE}/faults")
    assert page.get_by_label("Account", exact=True).count() == 0  # the rule is for this account
    page.get_by_label("Action (glob)").fill("DescribeRegions")
    page.get_by_role("button", name="Add rule").click()
    assert page.locator(".flash.ok").count() == 1, page.locator(".flash").inner_text()
    rows = page.locator("#rules tbody tr")
    assert rows.count() == 1 and mine.account_id in rows.inner_text()
    rows.get_by_role("button", name="Remove").click()
    assert "Removed fault rule" in page.locator(".flash").inner_text()

    page.goto(f"{CONSOLE}/accounts")
    page.get_by_label(f"Type {mine.account_id} to reset").fill(mine.account_id)
    page.get_by_role("button", name="Reset account").click()
    assert f"Reset account {mine.account_id}" in page.locator(".flash").inner_text()
    page.goto(f"{CONSOLE}/instances")
    assert page.locator("#instance-count").inner_text() == "0 instances"


def test_only_an_active_root_key_logs_in_and_disabling_it_ends_the_session(
    login_server: ServerProcess, pages: Pages
) -> None:
    mine = Sdk(login_server.endpoint, create_account(login_server.database_url), login_server.database_url)
    user = mine.new_user("AdministratorAccess")
    page = pages.open(login_server.url)
    log_in(page, user.key.access_key_id, user.key.secret)  # a RAM user's key, however powerful: no
    assert page.locator(".flash.error").count() == 1

    log_in(page, mine.key.access_key_id, mine.key.secret)
    page.goto(f"{CONSOLE}/users")
    assert page.locator("h1").inner_text() == "Users and AccessKeys"
    set_access_key_status(login_server.database_url, mine.key.access_key_id, "Inactive")
    page.goto(f"{CONSOLE}/users")
    assert page.url.endswith(f"{CONSOLE}/login")


def test_the_login_form_works_by_keyboard(login_server: ServerProcess, pages: Pages) -> None:
    mine = Sdk(login_server.endpoint, create_account(login_server.database_url), login_server.database_url)
    page = pages.open(login_server.url)
    page.goto(f"{CONSOLE}/login")
    focus_by_tab(page, "#access_key_id")
    page.keyboard.type(mine.key.access_key_id)
    page.keyboard.press("Tab")
    page.keyboard.type(mine.key.secret)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{CONSOLE}")
    assert mine.account_id in page.locator(".who").inner_text()


def test_login_attempts_at_one_key_are_limited_across_parallel_guesses(
    login_server: ServerProcess, pages: Pages
) -> None:
    """A burst of LOGIN_ATTEMPTS guesses at one root AccessKey, then it is refused (429 with
    Retry-After), even with its right secret; the limit is per key, so another account's key
    still logs in."""
    mine = Sdk(login_server.endpoint, create_account(login_server.database_url), login_server.database_url)
    theirs = Sdk(login_server.endpoint, create_account(login_server.database_url), login_server.database_url)
    guesses = [pages.open(login_server.url) for _ in range(2)]
    for n in range(LOGIN_ATTEMPTS):
        page = guesses[n % 2]  # two browsers, as a parallel guesser would use
        log_in(page, mine.key.access_key_id, f"guess-{n:02d}".ljust(30, "x"))
        assert page.url.endswith("/login")
        assert page.locator(".flash.error").inner_text().startswith("The AccessKey ID or secret is wrong"), n

    page = pages.open(login_server.url)
    page.goto(f"{CONSOLE}/login")
    page.get_by_label("AccessKey ID").fill(mine.key.access_key_id)
    page.get_by_label("AccessKey secret").fill(mine.key.secret)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 429
    assert answer.value.headers["retry-after"] == str(int(LOGIN_REFILL_SECONDS))
    assert "Too many login attempts" in page.locator(".flash.error").inner_text()
    page.goto(f"{CONSOLE}/instances")
    assert page.url.endswith(f"{CONSOLE}/login")  # the right secret opened nothing

    log_in(page, theirs.key.access_key_id, theirs.key.secret)
    page.wait_for_url(f"**{CONSOLE}")
    assert theirs.account_id in page.locator(".who").inner_text()


def focus_by_tab(page: Any, selector: str, limit: int = 200) -> None:
    """Press Tab until the element is focused (as a keyboard user would), or fail."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")
