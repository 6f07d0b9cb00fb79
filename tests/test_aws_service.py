"""AWS, fast tier: the service's two stacks (staging and production) deployed side by side
to a local AWS (moto) by the README's own commands in a default VPC: each deploy role
trusts its own environment only, the load balancer, its listener and target group exist
and reach the tasks only, the outputs are the deploy variables; then torn down. The
deploys themselves: tests/test_aws_release.py. Shared set-up: tests/aws_stack.py; the
`moto` fixture: tests/conftest.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aws_stack import (
    ENVIRONMENTS,
    GITHUB_REPOSITORY,
    PRODUCTION,
    SERVICE,
    STAGING,
    Moto,
    Readme,
    blocks_with,
    check_deploy_role,
    check_log_group,
    check_repository,
    deploy_by_readme,
    repository_uri,
    stack_parameters,
    stack_resources,
    teardown_by_readme,
)
from matrix import combo_id

if TYPE_CHECKING:
    from pathlib import Path

NAME = "demo-project"


def check_load_balancer(moto: Moto, name: str, variables: dict[str, str]) -> None:
    """An internet-facing ALB on the default VPC's subnets, HTTP on 80 to a target group
    that checks /health on the tasks' port; the URL is the deploy variable."""
    elbv2, ec2 = moto.client("elbv2"), moto.client("ec2")
    (balancer,) = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    assert balancer["Scheme"] == "internet-facing"
    assert balancer["Type"] == "application"
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    assert balancer["VpcId"] == vpc["VpcId"]
    assert len(balancer["AvailabilityZones"]) >= 2
    assert variables["SERVICE_URL"] == f"http://{balancer['DNSName']}"
    (group,) = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", 8000)
    assert group["HealthCheckPath"] == "/health"
    assert group["LoadBalancerArns"] == [balancer["LoadBalancerArn"]]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    assert listener["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}
    ]

    # The load balancer admits IngressCidr on 80; the tasks admit the load balancer only.
    (balancer_group,) = balancer["SecurityGroups"]
    groups = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        )["SecurityGroups"]
    }
    (rule,) = groups[balancer_group]["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"], rule["IpRanges"]) == (
        80,
        80,
        [{"CidrIp": "0.0.0.0/0"}],
    )
    ecs = moto.client("ecs")
    (service,) = ecs.describe_services(cluster=variables["ECS_CLUSTER"], services=[name])[
        "services"
    ]
    assert service["loadBalancers"] == [
        {
            "targetGroupArn": group["TargetGroupArn"],
            "containerName": variables["ECS_CONTAINER_NAME"],
            "containerPort": 8000,
        }
    ]
    tasks_group = stack_resources(moto, name)["SecurityGroup"]
    (rule,) = groups[tasks_group]["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"], rule["IpRanges"]) == (8000, 8000, [])
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [balancer_group]


@pytest.mark.xdist_group(combo_id(SERVICE))
def test_service_stacks_deploy_side_by_side_by_the_readme(  # type: ignore[no-untyped-def]
    render_copy, moto: Moto, tmp_path: Path
) -> None:
    project = render_copy(SERVICE)
    readme = Readme(project, moto, tmp_path / "readme")
    found = deploy_by_readme(readme)
    assert found[STAGING]["ECR_REPOSITORY"] == found[PRODUCTION]["ECR_REPOSITORY"] == NAME
    check_repository(moto, NAME)
    roles = {found[environment]["AWS_ROLE_ARN"] for environment in ENVIRONMENTS}
    assert len(roles) == 2, "one deploy role per environment"
    for environment in ENVIRONMENTS:
        name = f"{NAME}-{environment}"
        variables = found[environment]
        assert variables["ECS_SERVICE"] == variables["ECS_CLUSTER"] == name
        check_deploy_role(moto, variables["AWS_ROLE_ARN"], environment)
        check_log_group(moto, f"/ecs/{name}")
        created = stack_resources(moto, name)
        # The repository is staging's; production runs the images a release promotes.
        assert ("Repository" in created) == (environment == STAGING)
        assert {"LoadBalancer", "TargetGroup", "HttpListener", "Service"} <= set(created)
        assert "HttpsListener" not in created, "no certificate: HTTP only"
        parameters = stack_parameters(moto, name)
        assert parameters["Environment"] == environment
        assert parameters["GitHubRepository"] == GITHUB_REPOSITORY
        assert parameters["AssignPublicIp"] == "ENABLED", "a default VPC has no NAT gateway"
        assert parameters["ImageDigest"] == ""
        check_load_balancer(moto, name, variables)

        ecs = moto.client("ecs")
        (service,) = ecs.describe_services(cluster=name, services=[name])["services"]
        assert service["desiredCount"] == 0, "no task before a deploy has pushed an image"
        definition = ecs.describe_task_definition(taskDefinition=variables["ECS_TASK_DEFINITION"])
        (container,) = definition["taskDefinition"]["containerDefinitions"]
        assert container["name"] == variables["ECS_CONTAINER_NAME"] == name
        assert container["user"] == "10001:10001"
        assert container["readonlyRootFilesystem"] is True
        assert "/health" in " ".join(container["healthCheck"]["command"])
        assert container["image"] == repository_uri(moto, NAME)
        assert "environment" not in container or container["environment"] == [], (
            "no ModelUri: the model packaged with the code, no MODEL_URI"
        )

    check_model_of_one_environment(readme)
    teardown_by_readme(readme, NAME)


def check_model_of_one_environment(readme: Readme) -> None:
    """ModelUri of one environment: MODEL_URI in its task definition, and its task role may
    read exactly that object; the other environment keeps the packaged model."""
    moto = readme.moto
    model = "s3://team-models/demo/2026-05-01/model.json"
    (block,) = blocks_with(readme.project, "aws cloudformation deploy")
    staging_only = block.replace(
        f"for environment in {STAGING} {PRODUCTION}", f"for environment in {STAGING}"
    ).replace("AssignPublicIp=ENABLED", f"AssignPublicIp=ENABLED ModelUri={model}")
    readme.run(staging_only)
    ecs, iam = moto.client("ecs"), moto.client("iam")
    for environment, expected in ((STAGING, model), (PRODUCTION, None)):
        name = f"{NAME}-{environment}"
        definition = ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]
        (container,) = definition["containerDefinitions"]
        environment_variables = {e["name"]: e["value"] for e in container.get("environment", [])}
        assert environment_variables.get("MODEL_URI") == expected
        role = stack_resources(moto, name)["TaskRole"]
        policies = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert policies == (["read-the-model"] if expected else [])
        if expected:
            document = iam.get_role_policy(RoleName=role, PolicyName="read-the-model")[
                "PolicyDocument"
            ]
            (statement,) = document["Statement"]
            assert statement["Action"] == "s3:GetObject"
            assert statement["Resource"] == "arn:aws:s3:::team-models/demo/2026-05-01/model.json"
