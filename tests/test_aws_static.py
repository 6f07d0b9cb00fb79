"""AWS, fast tier, statically: infra/aws.yml of every aws render is clean for cfn-lint (zero
findings, informational checks included) and checkov (zero failed checks, every skip
inline with its reason); the stack's outputs, trust policy and permissions agree with
each environment's job in deploy.yml; what outlives a stack does so by policy; the Glue
columns are the pipeline's pyarrow schema; hostile free text and names of any length
give a valid stack. Shared readers: tests/aws_stack.py; the judges: tests/aws_judges.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from aws_judges import judged
from aws_stack import (
    AWS_RENDERS,
    ENVIRONMENTS,
    PIPELINE,
    SERVICE,
    STAGING,
    UNSCOPED,
    aws_table,
    blocks_with,
    deploy_variables,
    load_stack,
    load_workflow,
    output_key,
)
from aws_workflow import job_actions
from helpers import include_module, params, run, tool
from matrix import ROOT, Answers, combo_id, complete

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("answers", params(AWS_RENDERS))
def test_stack_passes_cfn_lint_and_checkov(render, checkov: str, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    text = (render(answers) / "infra" / "aws.yml").read_text(encoding="utf-8")
    verdict = judged(text, checkov)
    code, output = verdict["lint"]
    assert (code, output) == (0, ""), f"cfn-lint:\n{output}"
    report = verdict["checkov"]
    results = report["results"]
    assert report["summary"]["parsing_errors"] == 0
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
    assert failed == [], f"checkov: {failed}"
    for skipped in results["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment") or "") > 20, (
            f"{skipped['check_id']} on {skipped['resource']}: a skip needs its reason inline"
        )
    passed = {(c["check_id"], c["resource"]) for c in results["passed_checks"]}
    # The zero above means something: the IAM and ECR checks ran on this stack.
    assert ("CKV_AWS_111", "AWS::IAM::Role.DeployRole") in passed
    assert ("CKV_AWS_51", "AWS::ECR::Repository.Repository") in passed


def test_the_judges_find_a_planted_fault(render, checkov: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A stack with mutable tags and a broken reference fails both judges."""
    text = (render(PIPELINE) / "infra" / "aws.yml").read_text(encoding="utf-8")
    broken = text.replace("ImageTagMutability: IMMUTABLE", "ImageTagMutability: MUTABLE")
    broken = broken.replace("!GetAtt JobRole.Arn", "!GetAtt NoSuchRole.Arn", 1)
    assert broken != text
    verdict = judged(broken, checkov)
    code, output = verdict["lint"]
    assert code != 0
    assert "NoSuchRole" in output
    failed = {c["check_id"] for c in verdict["checkov"]["results"]["failed_checks"]}
    assert "CKV_AWS_51" in failed


@pytest.mark.parametrize("answers", params([PIPELINE, SERVICE]))
def test_outputs_are_the_deploy_variables(render, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    project = render(answers)
    stack = load_stack(project)
    variables = deploy_variables(project)
    outputs = stack["Outputs"]
    assert sorted(outputs) == sorted(output_key(name) for name in variables)
    for name in variables:
        assert outputs[output_key(name)]["Description"].startswith(f"{name}: ")
    (loop,) = blocks_with(project, "gh variable set")
    pairs = dict(re.findall(r"\b([A-Z][A-Z0-9_]+)=([A-Za-z0-9]+)\b", loop))
    assert pairs == {name: output_key(name) for name in variables}


@pytest.mark.parametrize("answers", params([PIPELINE, SERVICE]))
def test_each_deploy_role_is_for_its_environment_and_does_what_its_job_does(
    render, answers: Answers
) -> None:  # type: ignore[no-untyped-def]
    project = render(answers)
    resources = load_stack(project)["Resources"]
    jobs = load_workflow(project)["jobs"]
    assert list(jobs) == list(aws_table()["environments"]) == list(ENVIRONMENTS)
    readme = (project / "README.md").read_text(encoding="utf-8")
    for environment in ENVIRONMENTS:
        assert jobs[environment]["environment"]["name"] == environment
        assert f"`{environment}`" in readme

    role = resources["DeployRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"]["Federated"] == {
        "Fn::If": [
            "CreateOidcProvider",
            {"Ref": "GitHubOidcProvider"},
            {"Ref": "GitHubOidcProviderArn"},
        ]
    }
    # Each stack's role: the environment that stack is for (README deploys one per name).
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::Sub": "repo:${GitHubRepository}:environment:${Environment}"
            },
        }
    }
    assert resources["GitHubOidcProvider"]["Condition"] == "CreateOidcProvider"

    for environment in ENVIRONMENTS:
        conditions = {"BuildsImages": environment == STAGING}
        conditions["PromotesImages"] = not conditions["BuildsImages"]
        # Its inline policy, and the policies attached to it in that environment's stack.
        documents = [policy["PolicyDocument"] for policy in role["Policies"]]
        documents += [
            resource["Properties"]["PolicyDocument"]
            for resource in resources.values()
            if resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": "DeployRole"} in resource["Properties"]["Roles"]
            and conditions[resource["Condition"]]
        ]
        statements = [statement for document in documents for statement in document["Statement"]]
        granted: set[str] = set()
        for statement in statements:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            granted |= set(actions)
            targets = statement["Resource"]
            targets = targets if isinstance(targets, list) else [targets]
            if "*" in targets:
                assert targets == ["*"], statement
                assert set(actions) <= UNSCOPED, statement
                continue
            for target in targets:
                # Each resource is this stack's own: a reference, or an ARN with its Name.
                referenced = target.get("Ref") or (target.get("Fn::GetAtt") or [None])[0]
                if referenced:
                    assert referenced in resources, target
                else:
                    assert "/${Name}" in target["Fn::Sub"], target
        # What that environment's job does, no more: staging pushes, production only tags.
        assert granted == job_actions(project, environment), environment


def test_every_pass_role_names_the_receiving_service(render) -> None:  # type: ignore[no-untyped-def]
    """iam:PassRole, in every role of either kind, only toward the service that receives
    the roles: ECS's tasks, or AWS Batch, which hands them to the ECS tasks it runs."""
    receivers = {
        "service": ["ecs-tasks.amazonaws.com"],
        "pipeline": ["batch.amazonaws.com", "ecs-tasks.amazonaws.com"],
    }
    for answers in (PIPELINE, SERVICE):
        resources = load_stack(render(answers))["Resources"]
        passing = [
            statement
            for resource in resources.values()
            for policy in resource.get("Properties", {}).get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
            if "iam:PassRole" in str(statement["Action"])
        ]
        (statement,) = passing
        services = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        services = services if isinstance(services, list) else [services]
        assert services == receivers[answers["project_kind"]]


def test_what_outlives_a_stack_does_so_by_policy(render) -> None:  # type: ignore[no-untyped-def]
    """The data bucket and the account's OIDC provider stay when a stack is deleted, and go
    when its very first create fails (so that it can simply be retried)."""
    pipeline = load_stack(render(PIPELINE))["Resources"]
    service = load_stack(render(SERVICE))["Resources"]
    for resources in (pipeline, service):
        provider = resources["GitHubOidcProvider"]
        assert (provider["DeletionPolicy"], provider["UpdateReplacePolicy"]) == (
            "RetainExceptOnCreate",
            "Retain",
        )
        assert resources["Repository"]["Properties"]["EmptyOnDelete"] is True
        assert resources["LogGroup"]["DeletionPolicy"] == "Delete"
    bucket = pipeline["DataBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )
    kept = {
        name
        for resources in (pipeline, service)
        for name, resource in resources.items()
        if "Retain" in resource.get("DeletionPolicy", "")
    }
    assert kept == {"GitHubOidcProvider", "DataBucket"}


@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_glue_columns_are_the_pipeline_schema(render) -> None:  # type: ignore[no-untyped-def]
    """The Glue tables' columns are the ones src/<package>/dataset.py writes."""
    project = render(PIPELINE)
    code = (
        "import json; from demo_project.dataset import SCHEMAS, PARTITION; "
        "print(json.dumps([PARTITION, {name: [[f.name, str(f.type), f.metadata[b'comment']"
        ".decode()] for f in schema] for name, schema in SCHEMAS.items()}]))"
    )
    result = run(
        [sys.executable, "-c", code], cwd=project, env={"PYTHONPATH": str(project / "src")}
    )
    partition, schemas = json.loads(result.stdout)
    glue = {
        str(getattr(pa, t["pyarrow"])()): t["glue"]
        for t in include_module("dataset").types.values()
    }
    resources = load_stack(project)["Resources"]
    tables = {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Table"
    }
    assert sorted(tables) == sorted(schemas)
    for name, fields in schemas.items():
        columns = tables[name]["StorageDescriptor"]["Columns"]
        assert [[c["Name"], c["Type"], c["Comment"]] for c in columns] == [
            [field, glue[arrow], comment] for field, arrow, comment in fields
        ]
        assert tables[name]["PartitionKeys"] == [{"Name": partition, "Type": "string"}]


HOSTILE = 'He said "hi": it\'s #1 \\o/ {{ x }} naïve café ☕ 🚀 - [a] & *b* ! % yes'


def test_hostile_text_gives_a_valid_stack(tmp_path: Path) -> None:
    dst = tmp_path / "hostile"
    name = f"P {HOSTILE}"
    result = subprocess.run(
        [tool("copier"), "copy", "--quiet", "--defaults", "--vcs-ref=HEAD",
         "--data", f"project_name={name}", "--data", f"description={HOSTILE}",
         "--data", "package_name=hostile", "--data", "project_kind=pipeline",
         str(ROOT), str(dst)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stack = load_stack(dst)
    assert stack["Description"].startswith(f"{name}: ")
    run([tool("cfn-lint"), "--include-checks", "I", "--", str(dst / "infra" / "aws.yml")])


@pytest.mark.parametrize(
    ("package_name", "name"),
    [("a", "a-app"), ("_1x", "x-app"), ("a__b_", "a-b"), ("x" * 60, "x" * 19)],
)
def test_any_package_name_gives_a_valid_stack(render, package_name: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """Names of one letter, of leading digits or underscores, of runs of underscores and
    of 60 characters: the stack's default Name passes its own pattern and length (ECR's
    repository names take two characters at least)."""
    project = render(complete({"project_kind": "service", "package_name": package_name}))
    parameter = load_stack(project)["Parameters"]["Name"]
    assert parameter["Default"] == name
    assert re.fullmatch(parameter["AllowedPattern"], name)
    assert len(f"{name}-production") <= 30, "an ALB or target group name takes 32"
    run([tool("cfn-lint"), "--include-checks", "I", "--", str(project / "infra" / "aws.yml")])


FAKE_AWS = """#!/usr/bin/env bash
# Stands in for the AWS CLI: the newest job definition revision, as CloudFormation tags it.
set -euo pipefail
case "$1 $2" in
  "batch describe-job-definitions") cat "{current}" ;;
  "batch register-job-definition") cp "${4#file://}" "{registered}"; echo "arn:registered" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""


def test_batch_revisions_leave_out_reserved_tags(render, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A job definition's next revision keeps its tags but CloudFormation's ("aws:..."),
    which a registration may not carry (moto would take them: checked here with a stand-in
    for the AWS CLI)."""
    project = render(PIPELINE)
    current = tmp_path / "current.json"
    registered = tmp_path / "registered.json"
    current.write_text(
        json.dumps(
            {
                "jobDefinitionName": "demo-project-staging",
                "jobDefinitionArn": "arn:aws:batch:eu-west-1:1:job-definition/demo-project-staging:1",
                "revision": 1,
                "type": "container",
                "tags": {"aws:cloudformation:stack-name": "demo-project-staging", "team": "ml"},
                "propagateTags": True,
                "containerProperties": {"image": "repository@sha256:old", "user": "10001"},
            }
        ),
        encoding="utf-8",
    )
    fake = tmp_path / "bin" / "aws"
    fake.parent.mkdir()
    fake.write_text(
        FAKE_AWS.replace("{current}", str(current)).replace("{registered}", str(registered)),
        encoding="utf-8",
    )
    fake.chmod(0o755)
    run(
        ["bash", "infra/deploy.sh", "deploy", "repository@sha256:new"],
        cwd=project,
        env={
            "PATH": f"{fake.parent}:/usr/bin:/bin",
            "BATCH_JOB_DEFINITION": "demo-project-staging",
        },
    )
    next_revision = json.loads(registered.read_text(encoding="utf-8"))
    assert next_revision["tags"] == {"team": "ml"}
    assert next_revision["containerProperties"] == {
        "image": "repository@sha256:new",
        "user": "10001",
    }
    assert "revision" not in next_revision
    assert "jobDefinitionArn" not in next_revision


def test_deploy_script_passes_shellcheck(render) -> None:  # type: ignore[no-untyped-def]
    for answers in (PIPELINE, SERVICE):
        run([tool("shellcheck"), str(render(answers) / "infra" / "deploy.sh")])


@pytest.mark.parametrize("answers", params([PIPELINE, SERVICE]))
def test_readme_and_parameters_agree(render, answers: Answers) -> None:  # type: ignore[no-untyped-def]
    """Every stack parameter the README's set-up names exists, and each value it gives is
    one the parameter allows; both say the same about the default VPC and private
    subnets."""
    project = render(answers)
    parameters = load_stack(project)["Parameters"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("One-time set-up on the other side", 1)[1].split("\n## ", 1)[0]
    # EC2's filters (--filters Name=vpc-id,...) are not stack parameters.
    section = re.sub(r"--filters \S+( \S+)?", "", section)
    named = re.findall(r"\b([A-Z][a-z][A-Za-z]*)=(?!=)([^\s`\"\\]*)", section)
    assert {"Environment", "GitHubRepository", "VpcId", "SubnetIds", "AssignPublicIp"} <= {
        name for name, _ in named
    }
    for name, value in named:
        assert name in parameters, f"the README names {name}, which infra/aws.yml lacks"
        if not value or value.startswith("$") or "..." in value or value.isupper():
            continue  # a shell variable or a placeholder
        allowed = parameters[name]
        if "AllowedValues" in allowed:
            assert value in allowed["AllowedValues"], (name, value)
        if "AllowedPattern" in allowed:
            assert re.fullmatch(allowed["AllowedPattern"], value), (name, value)
    assert "AssignPublicIp=ENABLED" in section
    assert "default VPC" in section
    assert "default VPC" in parameters["AssignPublicIp"]["Description"]
    for words in ("NAT gateway", "VPC endpoints"):
        assert words in section
        assert words in parameters["SubnetIds"]["Description"]
