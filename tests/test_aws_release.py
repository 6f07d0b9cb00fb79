"""AWS, fast tier: deploy.yml's jobs run step by step against a local AWS (moto), on the
service's two stacks as the README sets them up. A push to main builds once and deploys
to staging (the first deploy before the service runs, then a rolling one whose /health
check goes through a local server standing in for the load balancer); re-runs find the
image and deploy again without error; a release promotes the very digest staging ran to
production, without building, and only when staging deployed that commit. Running a
job's steps: tests/aws_workflow.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aws_stack import (
    PRODUCTION,
    SERVICE,
    STAGING,
    Moto,
    Readme,
    blocks_with,
    deploy_by_readme,
    stack_parameters,
    teardown_by_readme,
)
from aws_workflow import Job, health_server, image_tags, push_image
from matrix import combo_id

if TYPE_CHECKING:
    from pathlib import Path

NAME = "demo-project"
FIRST, SECOND, UNRELEASED = ("1" * 40, "2" * 40, "3" * 40)


def newest_revision(moto: Moto, family: str) -> dict:  # type: ignore[type-arg]
    ecs = moto.client("ecs")
    found = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
    return {**found["taskDefinition"], "tags": found.get("tags", [])}


def image_of(revision: dict) -> str:  # type: ignore[type-arg]
    (container,) = revision["containerDefinitions"]
    return str(container["image"])


def start_services(readme: Readme) -> None:
    """The README's deploy loop again: each stack runs the image its environment runs."""
    (block,) = blocks_with(readme.project, "aws cloudformation deploy")
    readme.run(block)


def healthy_target(moto: Moto, name: str) -> None:
    """A task behind the load balancer (moto runs none: its address is registered)."""
    elbv2 = moto.client("elbv2")
    (group,) = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
    elbv2.register_targets(
        TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": "10.0.0.7", "Port": 8000}]
    )


def staging_job(readme: Readme, variables: dict[str, str], commit: str) -> Job:
    return Job(readme, STAGING, variables, {"github.sha": commit})


def build_if_needed(job: Job, moto: Moto, commit: str) -> str:
    """The job's look-up, then the build it runs when the look-up found nothing."""
    job.ok("Look up this commit's image")
    if job.outputs["found"]["digest"]:
        return "found"
    job.outputs["build"] = {"digest": push_image(moto, NAME, commit)}
    return "built"


@pytest.mark.xdist_group(combo_id(SERVICE))
def test_main_deploys_to_staging_and_a_release_promotes_its_image(  # type: ignore[no-untyped-def]
    render_copy, moto: Moto, tmp_path: Path
) -> None:
    project = render_copy(SERVICE)
    readme = Readme(project, moto, tmp_path / "readme")
    found = deploy_by_readme(readme)
    staging_name, production_name = f"{NAME}-{STAGING}", f"{NAME}-{PRODUCTION}"

    with health_server() as (url, requests):
        staging = {**found[STAGING], "SERVICE_URL": url}
        production = {**found[PRODUCTION], "SERVICE_URL": url}

        # The first push to main: built, then registered; the service runs no task yet.
        job = staging_job(readme, staging, FIRST)
        assert build_if_needed(job, moto, FIRST) == "built"
        # CloudFormation's own tags ("aws:...") on the current revision must not be copied.
        ecs = moto.client("ecs")
        current = newest_revision(moto, staging_name)["taskDefinitionArn"]
        ecs.tag_resource(
            resourceArn=current,
            tags=[
                {"key": "aws:cloudformation:stack-name", "value": staging_name},
                {"key": "team", "value": "models"},
            ],
        )
        log = job.ok("Deploy the image to staging")
        assert "runs no task yet" in log
        first = newest_revision(moto, staging_name)
        repository = job.outputs["found"]["repository"]
        first_image = f"{repository}@{job.outputs['build']['digest']}"
        assert image_of(first) == first_image
        assert first["tags"] == [{"key": "team", "value": "models"}]
        assert requests == []

        # Step 1's commands again start staging with that image; production has none yet.
        start_services(readme)
        assert stack_parameters(moto, staging_name)["ImageDigest"] == first_image.split("@")[1]
        assert stack_parameters(moto, production_name)["ImageDigest"] == ""
        (service,) = ecs.describe_services(cluster=staging_name, services=[staging_name])[
            "services"
        ]
        assert service["desiredCount"] == 1
        assert image_of(newest_revision(moto, staging_name)) == first_image
        healthy_target(moto, staging_name)

        # The second push: built, rolled over, stable, /health checked through the "URL".
        job = staging_job(readme, staging, SECOND)
        assert build_if_needed(job, moto, SECOND) == "built"
        job.ok("Deploy the image to staging")
        second_image = f"{repository}@{job.outputs['build']['digest']}"
        revision = newest_revision(moto, staging_name)
        assert image_of(revision) == second_image
        (service,) = ecs.describe_services(cluster=staging_name, services=[staging_name])[
            "services"
        ]
        assert service["taskDefinition"] == revision["taskDefinitionArn"]
        assert requests == ["/health"]
        assert f"{url}/health: " in job.summary.read_text(encoding="utf-8")
        readme.deployed(STAGING, SECOND, "success")

        # Its re-run finds the image (no build) and deploys again without error.
        rerun = staging_job(readme, staging, SECOND)
        assert build_if_needed(rerun, moto, SECOND) == "found"
        log = rerun.ok("Deploy the image to staging")
        assert "runs " + second_image + " already" in log
        assert newest_revision(moto, staging_name)["revision"] == revision["revision"]
        assert requests == ["/health", "/health"]

        # A release of the second commit: production gets the digest staging ran.
        built = image_tags(moto, NAME)
        release = Job(
            readme,
            PRODUCTION,
            production,
            {
                "github.sha": SECOND,
                "github.token": "a-token",
                "github.event.release.tag_name": "v0.1.0",
            },
        )
        release.ok("Check that staging runs this commit")
        release.ok("Look up the image staging ran")
        assert release.outputs["found"]["image"] == second_image
        release.ok("Tag it with the release")
        release.ok("Deploy it to production")
        assert image_of(newest_revision(moto, production_name)) == second_image
        digest = second_image.split("@")[1]
        assert image_tags(moto, NAME) == {**built, digest: sorted([SECOND, "v0.1.0"])}, (
            "nothing built or pushed: one more tag on the same image"
        )
        # Its re-run, and a second release of the same commit, deploy without error.
        assert "names " + digest + " already" in release.ok("Tag it with the release")
        release.ok("Deploy it to production")
        start_services(readme)
        assert stack_parameters(moto, production_name)["ImageDigest"] == digest
        healthy_target(moto, production_name)
        again = Job(
            readme,
            PRODUCTION,
            production,
            {**release.event, "github.event.release.tag_name": "v0.1.1"},
        )
        for step in ("Check that", "Look up", "Tag", "Deploy"):
            again.ok(step)
        assert image_tags(moto, NAME)[digest] == sorted([SECOND, "v0.1.0", "v0.1.1"])
        assert requests == ["/health"] * 3

    # Only what staging deployed successfully is promoted.
    for commit, state in ((UNRELEASED, None), (FIRST, "failure")):
        if state:
            readme.deployed(STAGING, commit, state)
        refused = Job(readme, PRODUCTION, production, {**release.event, "github.sha": commit})
        result = refused.run("Check that staging runs this commit")
        assert result.returncode == 1
        assert (
            f"{commit} has no successful deployment to {STAGING} (latest: {state or 'none'})"
            in (result.stdout)
        )
    # A commit never built: nothing to promote.
    lookup = Job(readme, PRODUCTION, production, {**release.event, "github.sha": UNRELEASED})
    result = lookup.run("Look up the image staging ran")
    assert result.returncode == 1
    assert f"No image for {UNRELEASED}" in result.stdout

    teardown_by_readme(readme, NAME)
