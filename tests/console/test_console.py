"""The web console, clicked through in headless Chromium against a real server (docs/console.md).

Each action is checked twice: on the page (the console's answer) and through an official SDK
(the API's view of the world), so a page that claims success without the API doing it fails.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.console.conftest import Pages, screenshot
from tests.console.world import HOSTILE_DESCRIPTION, HOSTILE_TAG, small_world, status_of
from tests.support.ecs import account_trust, attach, bindings, create_role, run_instances

CONSOLE = "/_ecsram/console"


def flash(page: Any) -> str:
    return str(page.locator(".flash").first.inner_text())


def row(page: Any, instance_id: str) -> Any:
    return page.locator(f'tr[data-instance="{instance_id}"]')


def test_attach_shows_in_the_trail_then_detach(server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path) -> None:
    ids = small_world(sdk)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    assert page.locator("#instance-count").inner_text().startswith("2 shown of 2")
    # Stored strings are text: the tag's markup is shown, not made into an element.
    assert HOSTILE_TAG in row(page, ids[0]).locator(".tag").inner_text()
    assert page.locator("#injected").count() == 0
    screenshot(page, shots, "instances")

    row(page, ids[0]).get_by_role("button", name=f"Attach the chosen role to {ids[0]}").click()
    assert "AttachInstanceRamRole: attached console-app to " + ids[0] in flash(page)
    assert page.locator(".flash.ok").count() == 1
    assert bindings(sdk, ids) == {ids[0]: "console-app"}
    assert row(page, ids[0]).locator("td.role").inner_text() == "console-app"

    page.goto(f"{CONSOLE}/trail?account={sdk.account_id}&action=AttachInstanceRamRole&since=15m")
    first = page.locator("#trail-rows tr").first
    assert "AttachInstanceRamRole" in first.inner_text()
    assert ids[0] in first.inner_text()
    assert "root" in first.inner_text()
    screenshot(page, shots, "trail")

    page.goto(f"{CONSOLE}/roles?account={sdk.account_id}")
    card = page.locator("#role-console-app")
    assert HOSTILE_DESCRIPTION in card.inner_text()
    assert page.title() == "Roles · ecsram"  # the description's script did not run
    assert ids[0] in card.inner_text() and "instances holding it (1)" in card.inner_text().lower()
    assert '"ecs.aliyuncs.com"' in card.locator("pre.doc").inner_text()
    screenshot(page, shots, "roles")

    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    row(page, ids[0]).get_by_role("button", name=f"Detach console-app from {ids[0]}").click()
    assert "DetachInstanceRamRole: detached the role of " + ids[0] in flash(page)
    assert bindings(sdk, ids) == {}


def test_the_trail_page_follows_new_calls_live(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    ids = small_world(sdk, instances=1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/trail?account={sdk.account_id}&since=15m")
    assert page.locator("#trail-live").is_checked()
    assert "AttachInstanceRamRole" not in page.locator("#trail-rows").inner_text()
    attach(sdk, "console-app", ids)  # through the SDK: the page was not reloaded
    page.locator("#trail-rows tr", has_text="AttachInstanceRamRole").wait_for(timeout=10_000)
    assert "Updated" in page.locator("#trail-status").inner_text()


def test_stop_and_start(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    ids = small_world(sdk, instances=1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    row(page, ids[0]).get_by_role("button", name=f"Stop {ids[0]}").click()
    assert f"StopInstance: stopped {ids[0]}" in flash(page)
    assert status_of(sdk, ids[0]) == "Stopped"
    assert row(page, ids[0]).locator(".state").inner_text() == "Stopped"
    row(page, ids[0]).get_by_role("button", name=f"Start {ids[0]}").click()
    assert f"StartInstance: started {ids[0]}" in flash(page)
    assert status_of(sdk, ids[0]) == "Running"


def test_the_api_error_of_an_action_is_shown_and_nothing_changes(
    server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path
) -> None:
    """A role ECS may not assume: the API refuses the attach, and the page says why."""
    create_role(sdk, "not-for-ecs", trust=account_trust(sdk.account_id))
    ids = run_instances(sdk, 1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    row(page, ids[0]).get_by_role("button", name=f"Attach the chosen role to {ids[0]}").click()
    message = flash(page)
    assert page.locator(".flash.error").count() == 1
    assert message.startswith("AttachInstanceRamRole refused: InvalidRamRole.NotEcsRole (404): "), message
    assert "(request " in message
    screenshot(page, shots, "instances-error")
    assert bindings(sdk, ids) == {}


def test_reset_an_account(server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path) -> None:
    small_world(sdk)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/accounts?account={sdk.account_id}")
    screenshot(page, shots, "accounts")
    form = page.locator("form", has=page.locator(f'input[name="account"][value="{sdk.account_id}"]'))
    form.get_by_role("button", name="Reset account").click()  # without typing the ID: refused
    assert "type the account ID" in flash(page)
    assert len(run_instances_listed(sdk)) == 2
    form = page.locator("form", has=page.locator(f'input[name="account"][value="{sdk.account_id}"]'))
    form.get_by_label(f"Type {sdk.account_id} to reset").fill(sdk.account_id)
    form.get_by_role("button", name="Reset account").click()
    assert f"Reset account {sdk.account_id}" in flash(page)
    assert run_instances_listed(sdk) == []


def run_instances_listed(sdk: Sdk) -> list[str]:
    body = sdk.tea_ecs().describe_instances(ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou")).body
    return [instance.instance_id for instance in body.instances.instance]


def test_add_a_fault_rule_see_a_call_refused_then_remove_it(
    server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path
) -> None:
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/faults?account={sdk.account_id}")
    page.get_by_label("Account", exact=True).last.select_option(sdk.account_id)
    page.get_by_label("Action (glob)").fill("DescribeInstances")
    page.get_by_label("Error code").fill("ServiceUnavailable")
    page.get_by_role("button", name="Add rule").click()
    assert page.locator(".flash.ok").count() == 1, flash(page)
    rule_id = re.search(r"fr-[0-9a-f]{16}", flash(page))
    assert rule_id is not None
    assert page.locator(f'tr[data-rule="{rule_id.group(0)}"]').count() == 1
    screenshot(page, shots, "faults")
    time.sleep(0.2)  # every worker applies a change within 0.1 s

    with pytest.raises(Exception) as refused:  # the Tea SDK's error for a 503
        run_instances_listed(sdk)
    assert getattr(refused.value, "code", None) == "ServiceUnavailable"

    page.get_by_role("button", name=f"Remove rule {rule_id.group(0)}").click()
    assert f"Removed fault rule {rule_id.group(0)}" in flash(page)
    time.sleep(0.2)
    assert run_instances_listed(sdk) == []


def test_a_bad_fault_rule_is_refused_with_the_reason(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/faults?account={sdk.account_id}")
    page.get_by_label("Probability").fill("2")
    page.get_by_role("button", name="Add rule").click()
    assert "probability" in flash(page) and page.locator(".flash.error").count() == 1


def test_users_page_shows_key_ids_never_secrets(server: ServerProcess, sdk: Sdk, pages: Pages, shots: Path) -> None:
    user = sdk.new_user("AliyunECSReadOnlyAccess", name="console-user")
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/users?account={sdk.account_id}")
    text = page.locator("main").inner_text()
    assert sdk.key.access_key_id in text and user.key.access_key_id in text
    assert "console-user" in text and "AliyunECSReadOnlyAccess" in text
    html = page.content()
    assert sdk.key.secret not in html and user.key.secret not in html
    screenshot(page, shots, "users")


def test_a_post_without_the_csrf_token_is_refused(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    ids = small_world(sdk, instances=1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")  # the browser has a session cookie
    form = {"account": sdk.account_id, "instance": ids[0], "region": "cn-hangzhou", "role": "console-app"}
    forged = page.request.post(f"{CONSOLE}/instances/attach", form=form, max_redirects=0)
    assert forged.status == 403
    stale = page.request.post(f"{CONSOLE}/instances/attach", form={**form, "csrf": "0" * 64}, max_redirects=0)
    assert stale.status == 403
    assert bindings(sdk, ids) == {}


def test_a_foreign_host_or_origin_is_refused(server: ServerProcess, sdk: Sdk, pages: Pages) -> None:
    """A page of another site must not reach the console: not by a name of its own resolving to
    127.0.0.1 (DNS rebinding), nor by posting a form from its origin."""
    raw = sdk.raw()
    rebound = raw.send("GET", f"{CONSOLE}/accounts", headers={"Host": f"attacker.example:{server.port}"})
    assert rebound.status == 403 and b"loopback" in rebound.body
    assert raw.send("GET", f"{CONSOLE}/accounts", headers={"Host": f"localhost:{server.port}"}).status == 200

    ids = small_world(sdk, instances=1)
    page = pages.open(server.url)
    page.goto(f"{CONSOLE}/instances?account={sdk.account_id}")
    token = page.locator('input[name="csrf"]').first.get_attribute("value")
    form = {
        "csrf": token,
        "account": sdk.account_id,
        "instance": ids[0],
        "region": "cn-hangzhou",
        "role": "console-app",
    }
    foreign = page.request.post(
        f"{CONSOLE}/instances/attach", form=form, headers={"Origin": "http://attacker.example"}, max_redirects=0
    )
    assert foreign.status == 403
    assert bindings(sdk, ids) == {}
    own = page.request.post(f"{CONSOLE}/instances/attach", form=form, headers={"Origin": server.url}, max_redirects=0)
    assert own.status == 303
    assert bindings(sdk, ids) == {ids[0]: "console-app"}
