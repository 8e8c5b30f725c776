"""Set-up for the console tests, through the official SDKs (never the console itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models

from ecsram.testing.plugin import REGION
from tests.support.ecs import create_role, run_instances

# Stored strings the console must show as text, never as markup.
HOSTILE_TAG = '<b id="injected">bold</b> & "quotes" \'single\''
HOSTILE_DESCRIPTION = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'


def tag(sdk: Any, ids: Sequence[str], key: str, value: str) -> None:
    request = ecs_models.TagResourcesRequest(
        region_id=REGION,
        resource_type="instance",
        resource_id=list(ids),
        tag=[ecs_models.TagResourcesRequestTag(key=key, value=value)],
    )
    sdk.tea_ecs().tag_resources(request)


def small_world(sdk: Any, role: str = "console-app", instances: int = 2) -> list[str]:
    """A role for ECS with a hostile description, and instances, the first tagged with markup."""
    create_role(sdk, role, description=HOSTILE_DESCRIPTION)
    ids = run_instances(sdk, instances)
    tag(sdk, ids[:1], "team", HOSTILE_TAG)
    return ids


def status_of(sdk: Any, instance_id: str) -> str:
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=f'["{instance_id}"]')
    body = sdk.tea_ecs().describe_instances(request).body.to_map()
    return str(body["Instances"]["Instance"][0]["Status"])
