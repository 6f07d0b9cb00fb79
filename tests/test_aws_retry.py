"""AWS, fast tier: what a failed first create, a tear-down and a deploy after it leave
behind, with the README's own commands on a local AWS (moto), for the pipeline's stacks
(the kind that keeps data).

AWS rolls a failed create back: resources with `DeletionPolicy: RetainExceptOnCreate` go,
those with `Retain` stay. moto does not roll back; the README's commands delete a stack
left by a failed create before they retry, and tests/moto_server.py deletes a stack as
AWS does (RetainExceptOnCreate resources go when the stack's create failed, stay
otherwise). So the retry below runs the template's own deletion policies: it succeeds
with the data bucket's RetainExceptOnCreate and fails with the Retain it had before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aws_stack import (
    ENVIRONMENTS,
    PIPELINE,
    PRODUCTION,
    STAGING,
    Moto,
    Readme,
    batch_service_role,
    blocks_with,
    deploy_stacks,
    load_stack,
    stack_resources,
    teardown_by_readme,
)
from matrix import combo_id

if TYPE_CHECKING:
    from pathlib import Path

NAME = "demo-project"
GITHUB_PROVIDER = "token.actions.githubusercontent.com"


def queue_in_the_way(moto: Moto, role: str) -> None:
    """A job queue named like staging's: its create fails after the data bucket exists."""
    batch = moto.client("batch")
    batch.create_compute_environment(
        computeEnvironmentName="in-the-way", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    batch.create_job_queue(
        jobQueueName=f"{NAME}-{STAGING}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "in-the-way"}],
    )


def remove_queue_in_the_way(moto: Moto) -> None:
    batch = moto.client("batch")
    batch.update_job_queue(jobQueue=f"{NAME}-{STAGING}", state="DISABLED")
    batch.delete_job_queue(jobQueue=f"{NAME}-{STAGING}")


def status(moto: Moto, stack: str) -> str:
    (found,) = moto.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return str(found["StackStatus"])


def buckets(moto: Moto) -> list[str]:
    return sorted(b["Name"] for b in moto.client("s3").list_buckets()["Buckets"])


def data_bucket(environment: str) -> str:
    return f"{NAME}-{environment}-data-123456789012-eu-west-1"


def oidc_providers(moto: Moto) -> list[str]:
    found = moto.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    return [p["Arn"] for p in found]


def create_the_oidc_provider(moto: Moto, project: Path) -> str:
    """The provider the first stack creates (moto's CloudFormation creates none), from the
    template's own properties."""
    provider = load_stack(project)["Resources"]["GitHubOidcProvider"]
    assert provider["DeletionPolicy"] == "RetainExceptOnCreate"
    properties = provider["Properties"]
    return str(
        moto.client("iam").create_open_id_connect_provider(
            Url=properties["Url"], ClientIDList=properties["ClientIdList"]
        )["OpenIDConnectProviderArn"]
    )


@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_a_failed_first_create_is_retried_and_a_tear_down_redeployed(  # type: ignore[no-untyped-def]
    render_copy, moto: Moto, tmp_path: Path
) -> None:
    project = render_copy(PIPELINE)
    readme = Readme(project, moto, tmp_path / "readme")
    role = batch_service_role(moto)
    extra = f"BatchServiceRoleArn={role}"

    # The first create fails after the data bucket was created; the stack is left behind.
    queue_in_the_way(moto, role)
    failed = deploy_stacks(readme, extra)
    assert failed.returncode != 0
    assert status(moto, f"{NAME}-{STAGING}") == "CREATE_FAILED"
    assert buckets(moto) == [data_bucket(STAGING)]

    # The cause removed, the same commands delete what the failed create left and retry.
    remove_queue_in_the_way(moto)
    retried = deploy_stacks(readme, extra)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    for environment in ENVIRONMENTS:
        assert status(moto, f"{NAME}-{environment}") == "CREATE_COMPLETE"
    assert buckets(moto) == sorted(data_bucket(e) for e in ENVIRONMENTS)

    # The provider the first stack created; the next run of the commands reuses it.
    provider = create_the_oidc_provider(moto, project)
    assert deploy_stacks(readme, extra).returncode == 0
    for environment in ENVIRONMENTS:
        parameters = moto.client("cloudformation").describe_stacks(
            StackName=f"{NAME}-{environment}"
        )["Stacks"][0]["Parameters"]
        given = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
        assert given["GitHubOidcProviderArn"] == provider

    # Tear-down: the stacks go; the data buckets (with the data) and the provider remain.
    s3 = moto.client("s3")
    for environment in ENVIRONMENTS:
        s3.put_object(Bucket=data_bucket(environment), Key="input/rows.csv", Body=b"a\n1\n")
        s3.put_object(Bucket=data_bucket(environment), Key="input/rows.csv", Body=b"a\n2\n")
    teardown_by_readme(readme, NAME)
    assert buckets(moto) == sorted(data_bucket(e) for e in ENVIRONMENTS)
    assert oidc_providers(moto) == [provider]

    # What remains, removed as the README says (every version of every object first).
    (remove,) = blocks_with(project, "delete-open-id-connect-provider")
    readme.run(remove)
    assert buckets(moto) == []
    assert oidc_providers(moto) == []

    # And a deploy after the tear-down works.
    redeployed = deploy_stacks(readme, extra)
    assert redeployed.returncode == 0, redeployed.stdout + redeployed.stderr
    assert {stack_resources(moto, f"{NAME}-{e}")["DataBucket"] for e in ENVIRONMENTS} == {
        data_bucket(e) for e in ENVIRONMENTS
    }


@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_a_retained_bucket_would_block_the_retry(  # type: ignore[no-untyped-def]
    render_copy, moto: Moto, tmp_path: Path
) -> None:
    """The check above can fail: with the data bucket's former `DeletionPolicy: Retain`, the
    bucket of the failed create stays and the retry cannot create it again."""
    project = render_copy(PIPELINE)
    stack = project / "infra" / "aws.yml"
    text = stack.read_text(encoding="utf-8")
    retained = text.replace(
        "    DeletionPolicy: RetainExceptOnCreate\n    UpdateReplacePolicy: Retain\n    Metadata:",
        "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Metadata:",
        1,
    )
    assert retained != text
    stack.write_text(retained, encoding="utf-8")
    readme = Readme(project, moto, tmp_path / "readme")
    role = batch_service_role(moto)
    queue_in_the_way(moto, role)
    assert deploy_stacks(readme, f"BatchServiceRoleArn={role}").returncode != 0
    remove_queue_in_the_way(moto)
    retried = deploy_stacks(readme, f"BatchServiceRoleArn={role}")
    assert retried.returncode != 0
    assert status(moto, f"{NAME}-{STAGING}") == "CREATE_FAILED"
    assert buckets(moto) == [data_bucket(STAGING)]
    assert PRODUCTION not in retried.stdout
