"""The instances page with 10,000 instances: paged (at most 100 rows), and its render time
measured and reported (artifacts/console/timings.txt), never asserted (the machine is shared);
the roles and users pages, paged too."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from alibabacloud_ram20150501 import models as ram_models

from ecsram.console.queries import ROLE_CHOICES, ROLE_SUGGESTIONS
from ecsram.store import accounts
from ecsram.store.database import Database
from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.console.conftest import Pages, screenshot
from tests.support.ecs import attach, create_role, run_instances

CONSOLE = "/_ecsram/console"
INSTANCES = 10_000


def test_the_instances_page_is_paged_with_10000_instances(
    server_factory: Callable[..., ServerProcess], pages: Pages, shots: Path
) -> None:
    server = server_factory()
    sdk = Sdk(server.endpoint, create_account(server.database_url), server.database_url)
    create_role(sdk, "fleet")
    started = time.perf_counter()
    ids: list[str] = []
    for _ in range(INSTANCES // 100):
        ids += run_instances(sdk, 100)
    created = time.perf_counter() - started
    assert len(set(ids)) == INSTANCES

    page = pages.open(server.url)
    timings = []
    for attempt in range(3):
        began = time.perf_counter()
        page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
        timings.append((time.perf_counter() - began, float(page.locator("#render-ms").inner_text())))
        if attempt == 0:
            screenshot(page, shots, "instances-10000")
    rows = page.locator("#instances tbody tr").count()
    assert 0 < rows <= 100
    assert page.locator("#instance-count").inner_text() == f"{rows} shown of 10,000"
    first_page = page.locator("#instances tbody tr").first.get_attribute("data-instance")
    assert first_page == min(ids)

    page.locator("#next-page").click()
    second = page.locator("#instances tbody tr").first.get_attribute("data-instance")
    assert second == sorted(ids)[rows]
    page.goto(f"{CONSOLE}/accounts?account={sdk.account_id}")
    assert "10,000" in page.locator("main").inner_text()

    report = (
        f"instances page, {INSTANCES} instances, {rows} rows per page "
        f"(created with {INSTANCES // 100} RunInstances Amount=100 calls in {created:.1f} s):\n"
        + "".join(
            f"  load {n + 1}: browser navigation {wall * 1000:.0f} ms, server render {server_ms:.1f} ms\n"
            for n, (wall, server_ms) in enumerate(timings)
        )
    )
    (shots / "timings.txt").write_text(report)
    print(report)


def test_the_accounts_page_shows_the_first_200_and_the_picked_one(
    server_factory: Callable[..., ServerProcess], pages: Pages
) -> None:
    server = server_factory()
    database = Database(server.database_url)
    try:
        with database.transaction() as tx:
            made = [accounts.create_account(tx, time.time()).account_id for _ in range(205)]
    finally:
        database.close()
    last = max(made)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/accounts")
    assert page.locator("main tbody tr").count() == 200
    assert "200 of 206 accounts shown" in page.locator("main").inner_text()  # and the first-start account
    page.goto(f"{CONSOLE}/accounts?account={last}")
    assert page.locator("main tbody tr").count() == 201
    assert page.locator(f'input[name="account"][value="{last}"]').count() == 1
    assert page.locator("#account-picker").input_value() == last


def test_the_roles_page_is_paged(server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path) -> None:
    names = [f"paged-role-{n:02d}" for n in range(55)]
    for name in names:
        create_role(sdk, name)
    (instance,) = run_instances(sdk, 1)
    attach(sdk, names[52], [instance])

    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/roles?account={sdk.account_id}")
    assert page.locator("#role-count").inner_text() == "50 shown of 55"
    assert page.locator("section.card h2").all_inner_texts() == names[:50]
    screenshot(page, shots, "roles-paged")

    page.locator("#next-page").click()
    assert page.locator("section.card h2").all_inner_texts() == names[50:]
    assert page.locator("#role-count").inner_text() == f"5 shown of 55, after {names[49]}"
    assert page.locator("#next-page").count() == 0
    card = page.locator(f"#role-{names[52]}")
    assert instance in card.inner_text() and "instances holding it (1)" in card.inner_text().lower()
    assert "instances holding it (0)" in page.locator(f"#role-{names[51]}").inner_text().lower()

    # A cursor that is not a role's name key shows the first page.
    page.goto(f"{CONSOLE}/roles?account={sdk.account_id}&after=%3Cscript%3E")
    assert page.locator("#role-count").inner_text() == "50 shown of 55"
    page.get_by_role("link", name="Next page »").click()
    page.get_by_role("link", name="« First page").click()
    assert page.locator("section.card h2").all_inner_texts() == names[:50]


def test_the_role_picker_stays_one_shared_list_with_many_roles(
    server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path
) -> None:
    """More roles than a list per row should hold: one shared list suggests the first names, and a
    typed name attaches any role, one beyond the suggestions too; an unknown name is refused."""
    names = [f"picker-role-{n:03d}" for n in range(ROLE_SUGGESTIONS + 5)]
    for name in names:
        create_role(sdk, name)
    ids = run_instances(sdk, 2)

    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    assert page.locator('select[name="role"]').count() == 0
    suggestions = page.locator("#role-names option")
    assert suggestions.count() == ROLE_SUGGESTIONS
    assert [suggestions.nth(n).get_attribute("value") for n in (0, ROLE_SUGGESTIONS - 1)] == [
        names[0],
        names[ROLE_SUGGESTIONS - 1],
    ]
    assert f"the first {ROLE_SUGGESTIONS} of this account's roles" in page.locator("#role-hint").inner_text()
    screenshot(page, shots, "instances-many-roles")

    first = page.locator(f'tr[data-instance="{ids[0]}"]')
    first.get_by_label(f"Role to attach to {ids[0]}").fill(names[-1])
    first.get_by_role("button", name=f"Attach the chosen role to {ids[0]}").click()
    assert f"AttachInstanceRamRole: attached {names[-1]} to {ids[0]}" in page.locator(".flash.ok").inner_text()
    assert names[-1] in page.locator(f'tr[data-instance="{ids[0]}"] td.role').inner_text()

    second = page.locator(f'tr[data-instance="{ids[1]}"]')
    second.get_by_label(f"Role to attach to {ids[1]}").fill("no-such-role")
    second.get_by_role("button", name=f"Attach the chosen role to {ids[1]}").click()
    assert page.locator(".flash.error").first.inner_text().startswith("AttachInstanceRamRole refused: ")
    assert "none" in page.locator(f'tr[data-instance="{ids[1]}"] td.role').inner_text()


def test_a_few_roles_keep_a_list_on_each_row(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    names = [f"few-role-{n:02d}" for n in range(ROLE_CHOICES)]
    for name in names:
        create_role(sdk, name)
    (instance,) = run_instances(sdk, 1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    picker = page.get_by_label(f"Role to attach to {instance}")
    assert picker.locator("option").all_inner_texts() == names
    assert page.locator("#role-names").count() == 0
    picker.select_option(names[-1])
    page.get_by_role("button", name=f"Attach the chosen role to {instance}").click()
    assert f"AttachInstanceRamRole: attached {names[-1]} to {instance}" in page.locator(".flash.ok").inner_text()


def test_the_users_page_is_paged(server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path) -> None:
    ram = sdk.tea_ram()
    names = [f"paged-user-{n:02d}" for n in range(55)]
    for name in names:
        ram.create_user(ram_models.CreateUserRequest(user_name=name))
    key = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name=names[52])).body.access_key

    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/users?account={sdk.account_id}")
    assert page.locator("#user-count").inner_text() == "50 shown of 55"
    assert page.locator("main tbody strong").all_inner_texts() == names[:50]
    assert sdk.key.access_key_id in page.locator("main").inner_text()  # the root key, on every page
    screenshot(page, shots, "users-paged")

    page.locator("#next-page").click()
    assert page.locator("main tbody strong").all_inner_texts() == names[50:]
    assert page.locator("#user-count").inner_text() == f"5 shown of 55, after {names[49]}"
    assert page.locator("#next-page").count() == 0
    assert key.access_key_id in page.locator("main").inner_text()
    assert key.access_key_secret not in page.content()

    # A cursor that is not a user's name key shows the first page.
    page.goto(f"{CONSOLE}/users?account={sdk.account_id}&after=%3Cscript%3E")
    assert page.locator("#user-count").inner_text() == "50 shown of 55"
    page.get_by_role("link", name="Next page »").click()
    page.get_by_role("link", name="« First page").click()
    assert page.locator("main tbody strong").all_inner_texts() == names[:50]
