"""The AWS side of aws renders, for the tests: reading a render's stack, deploy workflow and
README set-up; a local AWS (moto) and the README's commands run against it (both
environments' stacks, side by side). Running deploy.yml's steps: tests/aws_workflow.py;
the judges (cfn-lint, checkov): tests/aws_judges.py.

moto runs as a separate server (tests/moto_server.py, with its fixes), one fresh one per
test on a free port (the `moto` fixture in tests/conftest.py): a failed stack is not
rolled back, so nothing carries over. Its CloudFormation accepts AWS::Glue::*, AWS::Athena::WorkGroup,
AWS::IAM::OIDCProvider and AWS::S3::BucketPolicy but creates nothing for them;
`create_what_moto_does_not` creates the Glue database and table and the Athena workgroup
through moto's own APIs from the template's properties, and no test claims more than moto
did. moto also needs a ServiceRole on a Batch compute environment (AWS uses its
service-linked role when there is none): a deploy passes one through the stack's
BatchServiceRoleArn parameter, which `batch_service_role` creates.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml
from pyarrow import fs as pafs

from helpers import BIN, CloudFormationLoader, include_module, run
from matrix import ROOT, all_static_renders, complete

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "eu-west-1"
GITHUB_REPOSITORY = "octo-org/demo-project"
RUN_DATES = ["2024-05-30", "2024-05-31"]

AWS_RENDERS = [row for row in all_static_renders() if row["deploy_target"] == "aws"]
STAGING, PRODUCTION = ENVIRONMENTS = ("staging", "production")
REVIEWER_ID = "4242"
PIPELINE = complete({"project_kind": "pipeline", "dependency_manager": "uv"})
SERVICE = complete({"project_kind": "service", "dependency_manager": "uv"})

# What each action deploy.yml uses needs from AWS (the actions' READMEs list it), so that
# the deploy role can be checked against what the workflow does rather than against
# itself. The AWS CLI commands of its scripts (infra/deploy.sh) are read from them.
ECR_PUSH = {
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
}
ACTION_PERMISSIONS = {
    "actions/checkout": set(),
    "aws-actions/configure-aws-credentials": set(),
    "aws-actions/amazon-ecr-login": {"ecr:GetAuthorizationToken"},
    "docker/setup-buildx-action": set(),
    "docker/build-push-action": ECR_PUSH,
}
# The AWS CLI's commands whose API call needs more than its own action: registering a
# revision copies its tags and passes its roles; a waiter describes.
CLI_EXTRA = {
    "batch:RegisterJobDefinition": {"batch:TagResource", "iam:PassRole"},
    "ecs:RegisterTaskDefinition": {"ecs:TagResource", "iam:PassRole"},
}
CLI_WAITERS = {"ecs:WaitServicesStable": "ecs:DescribeServices"}
CLI_SERVICES = {"elbv2": "elasticloadbalancing"}
# Actions that take no narrower resource than "*" (AWS's service authorization reference).
UNSCOPED = {
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "batch:DescribeJobDefinitions",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
}


# --- reading templates, workflows and the README --------------------------------------


def load_stack(project: Path) -> dict[str, Any]:
    text = (project / "infra" / "aws.yml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=CloudFormationLoader)


def load_workflow(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".github/workflows/deploy.yml").read_text(encoding="utf-8"))


def deploy_variables(project: Path) -> list[str]:
    text = (project / ".github/workflows/deploy.yml").read_text(encoding="utf-8")
    return sorted(set(re.findall(r"\bvars\.([A-Z0-9_]+)", text)))


def aws_table() -> dict[str, Any]:
    return dict(include_module("deploy/targets").targets["aws"])


def output_key(variable: str) -> str:
    return str(include_module("deploy/targets").output_key(variable))


def readme_blocks(project: Path) -> list[str]:
    """The bash blocks of the README's AWS set-up, in order."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("One-time set-up on the other side", 1)[1].split("\n## ", 1)[0]
    return [
        textwrap.dedent(block)
        for block in re.findall(r"^ *```bash\n(.*?)^ *```", section, re.MULTILINE | re.DOTALL)
    ]


def blocks_with(project: Path, marker: str) -> list[str]:
    return [block for block in readme_blocks(project) if marker in block]


def commands_of(block: str) -> list[str]:
    """The commands of a block, continuation lines joined."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


# --- a local AWS: moto ----------------------------------------------------------------


@dataclass
class Moto:
    endpoint: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def filesystem(self) -> Any:
        return pafs.S3FileSystem(
            endpoint_override=self.endpoint.removeprefix("http://"),
            scheme="http",
            access_key="testing",
            secret_key="testing",
            region=REGION,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(tmp_path: Path) -> Iterator[Moto]:
    """A fresh moto server for this test only (failed stacks are not rolled back there)."""
    port = free_port()
    log = tmp_path / "moto.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "moto_server.py"),
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto did not start:\n{log.read_text(encoding='utf-8')[-3000:]}")
                time.sleep(0.2)
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        yield Moto(endpoint, log, env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


GH_STUB = """#!/usr/bin/env bash
# Test stand-in for the GitHub CLI (GitHub is not reachable here): answers `gh repo view`
# and `gh api user`; answers the deploy workflow's questions about deployments from a
# file of "ENVIRONMENT COMMIT STATE" lines (the line number is the deployment's id);
# records the other `gh api` calls (with what they read from stdin) and the variables
# `gh variable set --env` sets, which `gh variable get` reads back.
set -euo pipefail
case "$1 $2" in
  "repo view") echo "{repository}" ;;
  "api user") echo "{reviewer}" ;;
  "api repos/"*"/deployments?"*)
    query="${2#*\\?}"
    environment="$(sed -n 's/.*environment=\\([^&]*\\).*/\\1/p' <<<"$query")"
    sha="$(sed -n 's/.*sha=\\([^&]*\\).*/\\1/p' <<<"$query")"
    # the newest deployment of that commit to that environment (the last line)
    awk -v e="$environment" -v s="$sha" '$1 == e && $2 == s { id = NR } END { if (id) print id }' \\
      "{deployments}" ;;
  "api repos/"*"/statuses"*)
    id="$(sed -n 's|.*/deployments/\\([0-9]*\\)/statuses.*|\\1|p' <<<"$2")"
    awk -v id="$id" 'NR == id { print $3 }' "{deployments}" ;;
  "api "*)
    echo "$*" >> "{log}"
    if [[ " $* " == *" --input - "* ]]; then cat >> "{log}"; fi ;;
  "variable set")
    [ "$4" = --env ] && [ "$6" = --body ]
    printf '%s %s=%s\\n' "$5" "$3" "$7" >> "{variables}" ;;
  "variable get")
    [ "$4" = --env ]
    awk -v e="$5" -v n="$3" '$1 == e && index($2, n "=") == 1 { print substr($2, length(n) + 2) }' \\
      "{variables}" | tail -n 1 ;;
  *) echo "gh stand-in: unexpected call: $*" >&2; exit 1 ;;
esac
"""


@dataclass
class Readme:
    """Runs the README's AWS commands in a project, with a stand-in `gh`."""

    project: Path
    moto: Moto
    folder: Path

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.variables_file = self.folder / "variables.txt"
        self.gh_log = self.folder / "gh.log"
        self.deployments = self.folder / "deployments.txt"
        for path in (self.variables_file, self.gh_log, self.deployments):
            path.touch()
        stub = self.folder / "gh"
        stub.write_text(
            GH_STUB.replace("{repository}", GITHUB_REPOSITORY)
            .replace("{reviewer}", REVIEWER_ID)
            .replace("{log}", str(self.gh_log))
            .replace("{deployments}", str(self.deployments))
            .replace("{variables}", str(self.variables_file)),
            encoding="utf-8",
        )
        stub.chmod(0o755)

    @property
    def path(self) -> str:
        return os.pathsep.join([str(self.folder), str(BIN), os.environ.get("PATH", "")])

    def run(self, script: str) -> str:
        result = run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.project,
            env={**self.moto.env, "PATH": self.path},
            timeout=300,
        )
        return result.stdout

    def attempt(self, script: str) -> subprocess.CompletedProcess[str]:
        """Runs a script that may fail."""
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.project,
            env={**os.environ, **self.moto.env, "PATH": self.path},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def variables(self, environment: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.variables_file.read_text(encoding="utf-8").splitlines():
            where, pair = line.split(" ", 1)
            if where == environment:
                name, value = pair.split("=", 1)
                found[name] = value
        return found

    def deployed(self, environment: str, commit: str, state: str) -> None:
        """GitHub's record of a deploy job's run in an environment, for a commit."""
        with self.deployments.open("a", encoding="utf-8") as records:
            records.write(f"{environment} {commit} {state}\n")


def batch_service_role(moto: Moto) -> str:
    """A service role for moto's Batch (AWS uses its service-linked role without one)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "batch.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = moto.client("iam").create_role(
        RoleName="batch-service-role", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


def deploy_stacks(readme: Readme, extra: str = "") -> subprocess.CompletedProcess[str]:
    """The README's deploy loop (both environments' stacks), `extra` parameters added."""
    (block,) = blocks_with(readme.project, "aws cloudformation deploy")
    if extra:
        block = block.replace("AssignPublicIp=ENABLED", f"AssignPublicIp=ENABLED {extra}", 1)
        assert extra in block
    return readme.attempt(block)


def deploy_by_readme(readme: Readme, extra: str = "") -> dict[str, dict[str, str]]:
    """The README's deploy loop, then its environments and their variables: the
    variables of each environment."""
    result = deploy_stacks(readme, extra)
    assert result.returncode == 0, result.stdout + result.stderr
    (environments,) = blocks_with(readme.project, "gh variable set")
    readme.run(environments)
    check_environments(readme)
    found = {}
    for environment in ENVIRONMENTS:
        variables = readme.variables(environment)
        assert sorted(variables) == deploy_variables(readme.project)
        assert all(variables.values()), variables
        assert variables["AWS_REGION"] == REGION
        found[environment] = variables
    return found


def check_environments(readme: Readme) -> None:
    """The README created both environments with their protection rules."""
    log = readme.gh_log.read_text(encoding="utf-8")
    calls = [line for line in log.splitlines() if line.startswith("api ")]
    environments = "api --method {} repos/{{owner}}/{{repo}}/environments/{}"
    assert calls == [
        environments.format("PUT", STAGING) + " --silent --input -",
        environments.format("POST", STAGING)
        + "/deployment-branch-policies -f name=main -f type=branch --silent",
        environments.format("PUT", PRODUCTION) + " --silent --input -",
        environments.format("POST", PRODUCTION)
        + "/deployment-branch-policies -f name=v* -f type=tag --silent",
    ]
    bodies = re.findall(r"^(\{.*?\})$", log, re.MULTILINE | re.DOTALL)
    bodies = [json.loads(body) for body in bodies]
    policy = {"protected_branches": False, "custom_branch_policies": True}
    assert bodies == [
        {"deployment_branch_policy": policy},
        {
            "deployment_branch_policy": policy,
            "reviewers": [{"type": "User", "id": int(REVIEWER_ID)}],
        },
    ]


def stack_resources(moto: Moto, name: str) -> dict[str, str]:
    """Logical id -> physical id of what moto created (unsupported types are missing)."""
    found = moto.client("cloudformation").describe_stack_resources(StackName=name)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in found["StackResources"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def stack_parameters(moto: Moto, name: str) -> dict[str, str]:
    (stack,) = moto.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def check_deploy_role(moto: Moto, role_arn: str, environment: str) -> None:
    """The role trusts GitHub's tokens of this repository's `environment` only."""
    role = moto.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(urllib.request.unquote(document))
    (statement,) = document["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": (
            f"repo:{GITHUB_REPOSITORY}:environment:{environment}"
        ),
    }


def check_repository(moto: Moto, name: str) -> None:
    (repository,) = moto.client("ecr").describe_repositories(repositoryNames=[name])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"


def repository_uri(moto: Moto, repository: str) -> str:
    """The repository's URI, which the stack's first revision runs while ImageDigest is empty."""
    (found,) = moto.client("ecr").describe_repositories(repositoryNames=[repository])[
        "repositories"
    ]
    return str(found["repositoryUri"])


def check_log_group(moto: Moto, name: str) -> None:
    (group,) = moto.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 365


def teardown_by_readme(readme: Readme, name: str) -> None:
    """The README's tear-down: both stacks gone, and the ECR repository with them."""
    (teardown,) = blocks_with(readme.project, f'delete-stack --stack-name "{name}-')
    readme.run(teardown)
    stacks = readme.moto.client("cloudformation").list_stacks()["StackSummaries"]
    statuses = {s["StackName"]: s["StackStatus"] for s in stacks}
    for environment in ENVIRONMENTS:
        assert statuses[f"{name}-{environment}"] == "DELETE_COMPLETE"
    assert readme.moto.client("ecr").describe_repositories()["repositories"] == []


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """The template's intrinsic functions (those the Glue and Athena resources use) resolved."""
    if isinstance(value, list):
        return [resolve(item, refs) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    if "Fn::Sub" in value:

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            return "${" + name[1:] + "}" if name.startswith("!") else refs[name]

        return re.sub(r"\$\{([^}]+)\}", substitute, value["Fn::Sub"])
    if "Fn::Join" in value:
        separator, items = value["Fn::Join"]
        return separator.join(resolve(items, refs))
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return str(resolve(text, refs)).split(separator)
    return {key: resolve(item, refs) for key, item in value.items()}


def create_what_moto_does_not(moto: Moto, project: Path, name: str) -> tuple[str, str]:
    """The Glue database and tables and the Athena workgroup, through moto's own APIs.

    moto's CloudFormation accepted these resources and created nothing: this checks that
    first, then creates them from the template's own properties.
    """
    glue, athena = moto.client("glue"), moto.client("athena")
    refs = stack_parameters(moto, name)
    refs |= {"AWS::AccountId": "123456789012", "AWS::Region": REGION, "AWS::Partition": "aws"}
    refs |= stack_resources(moto, name)
    resources = load_stack(project)["Resources"]
    database = resolve(resources["GlueDatabase"]["Properties"], refs)
    workgroup = resolve(resources["AthenaWorkGroup"]["Properties"], refs)
    databases = [d["Name"] for d in glue.get_databases()["DatabaseList"]]
    assert database["DatabaseInput"]["Name"] not in databases
    assert workgroup["Name"] not in [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    glue.create_database(CatalogId=database["CatalogId"], DatabaseInput=database["DatabaseInput"])
    refs["GlueDatabase"] = database["DatabaseInput"]["Name"]
    for resource in resources.values():
        if resource["Type"] == "AWS::Glue::Table":
            properties = resolve(resource["Properties"], refs)
            glue.create_table(
                CatalogId=properties["CatalogId"],
                DatabaseName=properties["DatabaseName"],
                TableInput=properties["TableInput"],
            )
    table = resolve(resources["GlueTable"]["Properties"], refs)
    athena.create_work_group(
        Name=workgroup["Name"],
        Description=workgroup["Description"],
        Configuration=workgroup["WorkGroupConfiguration"],
    )
    return table["DatabaseName"], table["TableInput"]["Name"]
