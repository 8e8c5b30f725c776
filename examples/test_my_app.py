import pytest
from alibabacloud_ecs20140526.models import DescribeInstancesRequest, RunInstancesRequest
from alibabacloud_tea_openapi.exceptions import ClientException

from ecsram.testing.plugin import EcsramClients

ECS_ALL = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]}
DESCRIBE_ONLY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}


def test_instance_credentials_are_narrowed(ecsram_clients: EcsramClients) -> None:
    """Code on an instance gets its role's credentials, narrowed by the attach Policy."""
    role, instance = ecsram_clients.ecs_role(policy=ECS_ALL), ecsram_clients.vpc_instance()
    ecsram_clients.attach(role, instance, policy=DESCRIBE_ONLY)
    ecs = ecsram_clients.instance_clients(instance).ecs  # what code on the instance gets
    assert ecs.describe_instances(DescribeInstancesRequest(region_id="cn-hangzhou")).body.total_count == 1
    with pytest.raises(ClientException) as refused:  # the role may, the attach Policy may not
        ecs.run_instances(RunInstancesRequest(region_id="cn-hangzhou", image_id="img", instance_type="ecs.g7.large"))
    assert refused.value.code == "Forbidden.RAM"
