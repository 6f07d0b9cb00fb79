"""The AWS side of aws renders, for the tests: reading a render's stack, deploy workflow and
README set-up; a local AWS (moto) and the README's commands run against it; the judges.

moto runs as a separate server (tests/moto_server.py), one fresh one per test on a free
port (the `moto` fixture in tests/conftest.py): a failed stack is not rolled back, so
nothing carries over. Its CloudFormation accepts AWS::Glue::*, AWS::Athena::WorkGroup,
AWS::IAM::OIDCProvider and AWS::S3::BucketPolicy but creates nothing for them;
`create_what_moto_does_not` creates the Glue database and table and the Athena workgroup
through moto's own APIs from the template's properties, and no test claims more than moto
did. moto also needs a ServiceRole on a Batch compute environment (AWS uses its
service-linked role when there is none): a deploy passes one through the stack's
BatchServiceRoleArn parameter.
"""

from __future__ import annotations

import fcntl
import hashlib
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
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml
from pyarrow import fs as pafs

from helpers import BIN, CloudFormationLoader, include_module, run, tool
from matrix import ROOT, all_static_renders, complete

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "eu-west-1"
GITHUB_REPOSITORY = "octo-org/demo-project"
RUN_DATES = ["2024-05-30", "2024-05-31"]

AWS_RENDERS = [row for row in all_static_renders() if row["deploy_target"] == "aws"]
PIPELINE = complete({"project_kind": "pipeline", "dependency_manager": "uv"})
SERVICE = complete({"project_kind": "service", "dependency_manager": "uv"})

# What each step of deploy.yml needs from AWS (the actions' READMEs list it), so that the
# deploy role can be checked against what the workflow does rather than against itself.
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
    "aws-actions/amazon-ecs-render-task-definition": {"ecs:DescribeTaskDefinition"},
    # registers the rendered revision (with its tags), then updates the service and waits.
    "aws-actions/amazon-ecs-deploy-task-definition": {
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "iam:PassRole",
        "ecs:DescribeServices",
        "ecs:UpdateService",
    },
}
# The AWS CLI's commands in deploy.yml's scripts; registering copies the revision's tags
# and passes its roles.
CLI_EXTRA = {"batch:RegisterJobDefinition": {"batch:TagResource", "iam:PassRole"}}
# Actions that take no narrower resource than "*" (AWS's service authorization reference).
UNSCOPED = {
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "batch:DescribeJobDefinitions",
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


# --- the judges: cfn-lint and checkov ---------------------------------------------------


def install_checkov() -> str:
    """checkov from its own venv under .cache/checkov (its pins clash with the dev group),
    installed from requirements/checkov.txt with hashes, like the dev tools."""
    venv = ROOT / ".cache" / "checkov"
    executable = venv / "bin" / "checkov"
    lock_text = (ROOT / "requirements" / "checkov.txt").read_text(encoding="utf-8")
    stamp = venv / "lock.sha256"
    wanted = hashlib.sha256(lock_text.encode()).hexdigest()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / "checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (
            not executable.exists()
            or not stamp.exists()
            or stamp.read_text(encoding="utf-8") != wanted
        ):
            run([sys.executable, "-m", "venv", "--clear", str(venv)])
            python = str(venv / "bin" / "python")
            run(
                [python, "-m", "pip", "install", "--quiet", "--require-hashes",
                 "-r", str(ROOT / "requirements" / "checkov.txt")],
                timeout=1200,
            )  # fmt: skip
            stamp.write_text(wanted, encoding="utf-8")
    return str(executable)


@cache
def judged(content: str, checkov: str) -> dict[str, Any]:
    """cfn-lint and checkov on one stack text (cached: most renders share the same text)."""
    folder = ROOT / ".cache" / "aws-stacks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(content.encode()).hexdigest()[:16]}.yml"
    path.write_text(content, encoding="utf-8")
    lint = subprocess.run(
        [tool("cfn-lint"), "--include-checks", "I", "--format", "parseable", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    scan = subprocess.run(
        [checkov, "--skip-download", "--framework", "cloudformation",
         "--output", "json", "--file", str(path)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert scan.stdout.strip(), scan.stderr[-3000:]
    report = json.loads(scan.stdout)
    return {"lint": (lint.returncode, lint.stdout + lint.stderr), "checkov": report}


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
# Test stand-in for the GitHub CLI (GitHub is not reachable here): answers `gh repo view`,
# records `gh api` calls and the variables `gh variable set` would set.
set -euo pipefail
case "$1 $2" in
  "repo view") echo "{repository}" ;;
  "api "*) echo "$*" >> "{log}" ;;
  "variable set") printf '%s=%s\\n' "$3" "$5" >> "{variables}"; [ "$4" = --body ] ;;
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
        stub = self.folder / "gh"
        stub.write_text(
            GH_STUB.replace("{repository}", GITHUB_REPOSITORY)
            .replace("{log}", str(self.gh_log))
            .replace("{variables}", str(self.variables_file)),
            encoding="utf-8",
        )
        stub.chmod(0o755)

    def run(self, script: str) -> str:
        path = os.pathsep.join([str(self.folder), str(BIN), os.environ.get("PATH", "")])
        result = run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.project,
            env={**self.moto.env, "PATH": path},
            timeout=300,
        )
        return result.stdout

    def variables(self) -> dict[str, str]:
        lines = self.variables_file.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)


def default_network(moto: Moto) -> tuple[str, list[str]]:
    ec2 = moto.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0][
        "VpcId"
    ]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    return vpc, [subnet["SubnetId"] for subnet in subnets][:2]


def deploy_by_readme(readme: Readme, extra: str = "") -> dict[str, str]:
    """The README's deploy command (with moto's VPC), then its variables loop."""
    vpc, subnets = default_network(readme.moto)
    command = blocks_with(readme.project, "aws cloudformation deploy")[0]
    command = re.sub(r"VpcId=\S+", f"VpcId={vpc}", command)
    command = re.sub(r"SubnetIds=\S+", f"SubnetIds={','.join(subnets)}", command)
    readme.run(command.rstrip() + (f" \\\n  {extra}" if extra else "") + "\n")
    (loop,) = blocks_with(readme.project, "gh variable set")
    readme.run(loop)
    assert readme.gh_log.read_text(encoding="utf-8").split() == [
        "api", "--method", "PUT", "repos/{owner}/{repo}/environments/aws", "--silent"
    ]  # fmt: skip
    variables = readme.variables()
    assert sorted(variables) == deploy_variables(readme.project)
    assert all(variables.values()), variables
    assert variables["AWS_REGION"] == REGION
    return variables


def stack_resources(moto: Moto, name: str) -> dict[str, str]:
    """Logical id -> physical id of what moto created (unsupported types are missing)."""
    found = moto.client("cloudformation").describe_stack_resources(StackName=name)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in found["StackResources"]
        if r.get("LogicalResourceId")
    }


def check_deploy_role(moto: Moto, role_arn: str) -> None:
    role = moto.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(urllib.request.unquote(document))
    (statement,) = document["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": (
            f"repo:{GITHUB_REPOSITORY}:environment:{aws_table()['environment']}"
        ),
    }


def check_repository(moto: Moto, name: str) -> None:
    (repository,) = moto.client("ecr").describe_repositories(repositoryNames=[name])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"


def repository_uri(moto: Moto, repository: str) -> str:
    """The repository's URI, which the stack's first revision runs while ImageTag is empty."""
    (found,) = moto.client("ecr").describe_repositories(repositoryNames=[repository])[
        "repositories"
    ]
    return str(found["repositoryUri"])


def check_log_group(moto: Moto, name: str) -> None:
    (group,) = moto.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 365


def teardown_by_readme(readme: Readme, name: str) -> None:
    (teardown,) = blocks_with(readme.project, "delete-stack")
    readme.run(teardown)
    stacks = readme.moto.client("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackName"]: s["StackStatus"] for s in stacks}[name] == "DELETE_COMPLETE"
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
    assert glue.get_databases()["DatabaseList"] == []
    assert [w["Name"] for w in athena.list_work_groups()["WorkGroups"]] == ["primary"]
    cloudformation = moto.client("cloudformation")
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    refs = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    refs |= {"AWS::AccountId": "123456789012", "AWS::Region": REGION, "AWS::Partition": "aws"}
    refs |= stack_resources(moto, name)
    resources = load_stack(project)["Resources"]
    database = resolve(resources["GlueDatabase"]["Properties"], refs)
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
    workgroup = resolve(resources["AthenaWorkGroup"]["Properties"], refs)
    athena.create_work_group(
        Name=workgroup["Name"],
        Description=workgroup["Description"],
        Configuration=workgroup["WorkGroupConfiguration"],
    )
    return table["DatabaseName"], table["TableInput"]["Name"]
