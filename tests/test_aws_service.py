"""AWS, fast tier: the service stack deployed to a local AWS (moto) by the README's own
commands, then started with a released image and torn down. Shared set-up:
tests/aws_stack.py; the `moto` fixture: tests/conftest.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aws_stack import (
    GITHUB_REPOSITORY,
    SERVICE,
    Moto,
    Readme,
    blocks_with,
    check_deploy_role,
    check_log_group,
    check_repository,
    deploy_by_readme,
    repository_uri,
    stack_resources,
    teardown_by_readme,
)
from helpers import run
from matrix import combo_id

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.xdist_group(combo_id(SERVICE))
def test_service_stack_deploys_by_the_readme(render_copy, moto: Moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = render_copy(SERVICE)
    readme = Readme(project, moto, tmp_path / "readme")
    variables = deploy_by_readme(readme)
    name = variables["ECS_SERVICE"]
    check_deploy_role(moto, variables["AWS_ROLE_ARN"])
    check_repository(moto, variables["ECR_REPOSITORY"])
    check_log_group(moto, f"/ecs/{name}")
    created = stack_resources(moto, name)

    ecs = moto.client("ecs")
    (service,) = ecs.describe_services(cluster=variables["ECS_CLUSTER"], services=[name])[
        "services"
    ]
    assert service["desiredCount"] == 0, "no task before a release has pushed an image"
    definition = ecs.describe_task_definition(taskDefinition=variables["ECS_TASK_DEFINITION"])
    (container,) = definition["taskDefinition"]["containerDefinitions"]
    assert container["name"] == variables["ECS_CONTAINER_NAME"]
    assert container["user"] == "10001:10001"
    assert container["readonlyRootFilesystem"] is True
    assert "/health" in " ".join(container["healthCheck"]["command"])
    assert container["image"] == repository_uri(moto, variables["ECR_REPOSITORY"])
    # moto's CloudFormation keeps no roles on task definitions: those are checked statically.
    assert {"TaskRole", "ExecutionRole", "Service", "Cluster", "SecurityGroup"} <= set(created)

    # The README's next step after the first release: run the image the release pushed.
    run(["git", "init", "--quiet"], cwd=project)
    run(["git", "add", "--all"], cwd=project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet",
         "--message", "release"], cwd=project)  # fmt: skip
    run(["git", "tag", "v0.1.0"], cwd=project)
    sha = run(["git", "rev-parse", "HEAD"], cwd=project).stdout.strip()
    (start,) = blocks_with(project, "ImageTag=")
    readme.run(start)
    (service,) = ecs.describe_services(cluster=variables["ECS_CLUSTER"], services=[name])[
        "services"
    ]
    assert service["desiredCount"] == 1
    assert service["taskDefinition"].endswith(f"task-definition/{name}:2")
    # The release's commit is the image tag now; the other parameters kept their values.
    (stack,) = moto.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["ImageTag"] == sha
    assert parameters["GitHubRepository"] == GITHUB_REPOSITORY
    assert parameters["IngressCidr"] == "10.0.0.0/16"

    teardown_by_readme(readme, name)
