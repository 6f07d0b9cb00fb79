"""AWS end to end: infra/aws.yml is clean for cfn-lint and checkov, deploys to a local AWS
(moto) by the README's own commands, and the pipeline's results land in the stack's bucket
as its Glue table describes them.

Tiers:
- fast: cfn-lint (zero findings, informational checks included) and checkov (zero failed
  checks, every skip inline with its reason) on every aws render; the stack's outputs,
  trust policy and permissions against deploy.yml; the Glue columns against the
  pipeline's pyarrow schema; hostile free text; the service stack deployed to moto.
- install: the pipeline stack deployed to moto, then the pipeline run from the rendered
  project's own environment (uv) writes to the stack's bucket; read back through the
  Glue table.
- docker: the same run from the project's image (read-only, non-root), which reaches
  moto over the host's network.

moto runs as a separate server (tests/moto_server.py), one fresh one per test on a free
port: a failed stack is not rolled back, so nothing carries over. Its CloudFormation
accepts AWS::Glue::*, AWS::Athena::WorkGroup, AWS::IAM::OIDCProvider and
AWS::S3::BucketPolicy but creates nothing for them; the Glue database and table and the
Athena workgroup are created here through moto's own APIs from the template's
properties, and no test claims more than moto did. moto also needs a ServiceRole on a
Batch compute environment (AWS uses its service-linked role when there is none): the
deploy passes one through the stack's BatchServiceRoleArn parameter.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from pyarrow import fs as pafs

import lockers
from helpers import BIN, CloudFormationLoader, include_module, params, run, tool
from matrix import ROOT, Answers, all_static_renders, combo_id, complete

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


# --- fast tier: judges ------------------------------------------------------------------


@pytest.fixture(scope="session")
def checkov() -> str:
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
def test_deploy_role_is_for_the_environment_and_does_what_deploy_yml_does(
    render, answers: Answers
) -> None:  # type: ignore[no-untyped-def]
    project = render(answers)
    stack = load_stack(project)
    resources = stack["Resources"]
    environment = aws_table()["environment"]

    # deploy.yml runs in the environment the table names; the README and the role agree.
    workflow = load_workflow(project)
    (job,) = workflow["jobs"].values()
    assert job["environment"]["name"] == environment
    assert f"environment `{environment}`" in (project / "README.md").read_text(encoding="utf-8")
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
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::Sub": f"repo:${{GitHubRepository}}:environment:{environment}"
            },
        }
    }
    assert resources["GitHubOidcProvider"]["Condition"] == "CreateOidcProvider"

    # What deploy.yml's steps need: the actions it uses, the AWS CLI commands it runs.
    needed: set[str] = set()
    for step in job["steps"]:
        if "uses" in step:
            needed |= ACTION_PERMISSIONS[step["uses"].split("@")[0]]
        for service, command in re.findall(r"\baws (\w+) ([a-z-]+)", step.get("run", "")):
            action = f"{service}:{command.title().replace('-', '')}"
            needed |= {action, *CLI_EXTRA.get(action, set())}
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    granted: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        granted |= set(actions)
        targets = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if "*" in targets:
            assert targets == ["*"], statement
            assert set(actions) <= UNSCOPED, statement
            continue
        for target in targets:
            # Each resource is this stack's own: a reference to it, or an ARN with its Name.
            referenced = target.get("Ref") or (target.get("Fn::GetAtt") or [None])[0]
            if referenced:
                assert referenced in resources, target
            else:
                assert "/${Name}" in target["Fn::Sub"], target
    assert granted == needed


@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_glue_columns_are_the_pipeline_schema(render) -> None:  # type: ignore[no-untyped-def]
    """The Glue table's columns are the ones src/<package>/dataset.py writes."""
    project = render(PIPELINE)
    code = (
        "import json; from demo_project.dataset import SCHEMA, PARTITION; "
        "print(json.dumps([PARTITION, [[f.name, str(f.type), f.metadata[b'comment'].decode()]"
        " for f in SCHEMA]]))"
    )
    result = run(
        [sys.executable, "-c", code], cwd=project, env={"PYTHONPATH": str(project / "src")}
    )
    partition, fields = json.loads(result.stdout)
    glue = {
        str(getattr(pa, t["pyarrow"])()): t["glue"]
        for t in include_module("dataset").types.values()
    }
    table = load_stack(project)["Resources"]["GlueTable"]["Properties"]["TableInput"]
    columns = table["StorageDescriptor"]["Columns"]
    assert [[c["Name"], c["Type"], c["Comment"]] for c in columns] == [
        [name, glue[arrow], comment] for name, arrow, comment in fields
    ]
    assert table["PartitionKeys"] == [{"Name": partition, "Type": "string"}]


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


# --- moto ------------------------------------------------------------------------------


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


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
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


# --- fast tier: the service stack on moto ------------------------------------------------


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


# --- the pipeline on moto: install and docker tiers ---------------------------------------


@dataclass
class PipelineStack:
    variables: dict[str, str]
    bucket: str
    command: list[str]
    database: str
    table: str


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
    """The Glue database and table and the Athena workgroup, through moto's own APIs.

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
    table = resolve(resources["GlueTable"]["Properties"], refs)
    glue.create_table(
        CatalogId=table["CatalogId"],
        DatabaseName=table["DatabaseName"],
        TableInput=table["TableInput"],
    )
    workgroup = resolve(resources["AthenaWorkGroup"]["Properties"], refs)
    athena.create_work_group(
        Name=workgroup["Name"],
        Description=workgroup["Description"],
        Configuration=workgroup["WorkGroupConfiguration"],
    )
    return table["DatabaseName"], table["TableInput"]["Name"]


def release(project: Path, readme: Readme, variables: dict[str, str]) -> str:
    """deploy.yml's AWS Batch step as a release runs it, for an image it has pushed."""
    (job,) = load_workflow(project)["jobs"].values()
    (step,) = [s for s in job["steps"] if "job definition revision" in s.get("name", "")]
    (repository,) = readme.moto.client("ecr").describe_repositories(
        repositoryNames=[variables["ECR_REPOSITORY"]]
    )["repositories"]
    image_digest = "sha256:" + hashlib.sha256(b"release").hexdigest()
    expressions = {
        **{f"vars.{key}": value for key, value in variables.items()},
        "steps.ecr.outputs.registry": repository["repositoryUri"].split("/")[0],
        "steps.build.outputs.digest": image_digest,
    }
    env = {
        key: re.sub(r"\$\{\{ (.*?) \}\}", lambda m: expressions[m.group(1)], value)
        for key, value in step["env"].items()
    }
    workdir = readme.folder / "release"
    workdir.mkdir()
    path = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    # GitHub runs a bash step as `bash --noprofile --norc -eo pipefail {0}`.
    run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=workdir,
        env={**readme.moto.env, **env, "PATH": path},
    )
    return env["IMAGE"]


def deploy_pipeline(project: Path, moto: Moto, folder: Path) -> tuple[Readme, PipelineStack]:
    """The README's set-up of the pipeline stack on moto, checked for what moto created."""
    batch_role = moto.client("iam").create_role(
        RoleName="batch-service-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "batch.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    readme = Readme(project, moto, folder)
    variables = deploy_by_readme(readme, extra=f"BatchServiceRoleArn={batch_role}")
    name = variables["BATCH_JOB_DEFINITION"]
    check_deploy_role(moto, variables["AWS_ROLE_ARN"])
    check_repository(moto, variables["ECR_REPOSITORY"])
    check_log_group(moto, f"/aws/batch/{name}")
    created = stack_resources(moto, name)
    bucket = created["DataBucket"]
    rules = moto.client("s3").get_bucket_encryption(Bucket=bucket)
    (rule,) = rules["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (queue,) = moto.client("batch").describe_job_queues(jobQueues=[name])["jobQueues"]
    assert queue["state"] == "ENABLED"

    database, table = create_what_moto_does_not(moto, project, name)

    # The first revision is the stack's; a release registers the next with its image.
    batch = moto.client("batch")
    (first,) = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
    image = release(project, readme, variables)
    revisions = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
    newest = max(revisions["jobDefinitions"], key=lambda d: d["revision"])
    assert newest["revision"] == first["revision"] + 1
    container = newest["containerProperties"]
    assert container["image"] == image
    for key in ("command", "jobRoleArn", "executionRoleArn", "user", "readonlyRootFilesystem"):
        assert container[key] == first["containerProperties"][key], key
    assert container["jobRoleArn"].rsplit("/", 1)[1] == created["JobRole"]
    assert container["executionRoleArn"].rsplit("/", 1)[1] == created["ExecutionRole"]
    assert container["user"] == "10001"
    assert container["readonlyRootFilesystem"] is True
    return readme, PipelineStack(variables, bucket, container["command"], database, table)


def run_the_pipeline(pipeline: Any, moto: Moto, stack: PipelineStack, folder: Path) -> None:
    """Runs `pipeline(args) -> CompletedProcess` as the Batch job would, and reruns it."""
    s3 = moto.client("s3")
    rows = folder / "rows.parquet"
    pq.write_table(pa.table({"a": [1.0, 3.0, 5.0], "b": [2.0, 2.0, 1.0], "c": [3, 1, 0]}), rows)
    s3.upload_file(str(rows), stack.bucket, "input/rows.parquet")
    s3.put_object(Bucket=stack.bucket, Key="input/rows.csv", Body=b"a,b,c\n1,2,3\n3,2,1\n")
    assert stack.command == ["--output", f"s3://{stack.bucket}/scores"]

    source = f"s3://{stack.bucket}/input"
    first, second = RUN_DATES
    for args in (
        ["--input", f"{source}/rows.csv", "--run-date", first],
        ["--input", f"{source}/rows.parquet", "--run-date", first],  # replaces the first
        ["--input", f"{source}/rows.csv", "--run-date", second],
    ):
        result = pipeline([*stack.command, *args])
        assert result.returncode == 0, result.stdout + result.stderr
        summary = json.loads(result.stdout)
        assert summary["output"] == f"s3://{stack.bucket}/scores/run_date={args[-1]}"

    for args, message in (
        (["--input", f"{source}/missing.csv"], "cannot read"),
        (["--output", "s3://no-such-bucket-here/scores"], "cannot write"),
    ):
        result = pipeline(args)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr


def check_dataset(moto: Moto, stack: PipelineStack) -> None:
    """The bucket holds what the Glue table describes: its columns, one file per run date."""
    table = moto.client("glue").get_table(DatabaseName=stack.database, Name=stack.table)["Table"]
    location = table["StorageDescriptor"]["Location"]
    assert location == f"s3://{stack.bucket}/scores/"
    (key,) = table["PartitionKeys"]
    assert key["Type"] == "string"
    filesystem = moto.filesystem()
    found = ds.dataset(
        location.removeprefix("s3://"),
        filesystem=filesystem,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(key["Name"], pa.string())]), flavor="hive"),
    )
    glue_type = {
        str(getattr(pa, t["pyarrow"])()): t["glue"]
        for t in include_module("dataset").types.values()
    }
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    written = [(f.name, glue_type[str(f.type)]) for f in found.schema if f.name != key["Name"]]
    assert written == columns
    data = found.to_table()
    per_date: dict[str, int] = {}
    for value in data.column(key["Name"]).to_pylist():
        per_date[value] = per_date.get(value, 0) + 1
    assert per_date == {RUN_DATES[0]: 3, RUN_DATES[1]: 2}, "a rerun replaced its partition"
    assert set(data.column("model_version").to_pylist()) == {"0.1.0"}
    # Each partition is one file where the table's projection template puts it.
    files = sorted(
        info.path
        for info in filesystem.get_file_info(
            pafs.FileSelector(location.removeprefix("s3://"), recursive=True)
        )
        if info.type == pafs.FileType.File
    )
    template = table["Parameters"]["storage.location.template"]
    assert files == [
        template.replace("${" + key["Name"] + "}", date).removeprefix("s3://") + "part-0.parquet"
        for date in RUN_DATES
    ]


def query_and_tear_down(readme: Readme, stack: PipelineStack) -> None:
    """The README's Athena query (moto answers it without running SQL), then tear-down."""
    (block,) = blocks_with(readme.project, "aws athena")
    (query,) = [c for c in commands_of(block) if c.startswith("aws athena")]
    assert f"FROM {stack.database}.{stack.table}" in query
    assert readme.run(query).strip()
    teardown_by_readme(readme, stack.variables["BATCH_JOB_DEFINITION"])
    # The data bucket outlives the stack (DeletionPolicy: Retain), with the results in it.
    listed = readme.moto.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="scores/")
    assert len([o for o in listed["Contents"] if o["Key"].endswith(".parquet")]) == 2


@pytest.mark.install
@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_pipeline_on_moto_from_its_environment(render_copy, moto: Moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = render_copy(PIPELINE)
    python = PIPELINE["python_version"]
    lockers.lock(project, "uv", python)
    lockers.install(project, "uv", python)
    readme, stack = deploy_pipeline(project, moto, tmp_path / "readme")
    command = project / ".venv" / "bin" / "demo-project"

    def execute(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=project,
            env={**lockers.manager_env(python), **moto.env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def pipeline(args: list[str]) -> subprocess.CompletedProcess[str]:
        return execute([str(command), *args])

    run_the_pipeline(pipeline, moto, stack, tmp_path)
    # A run that dies with half a file written: the partition in S3 stays as it was.
    crash = (
        "import sys, pyarrow.parquet as pq\n"
        "from demo_project.cli import main\n"
        "def half_written(table, where, filesystem):\n"
        "    with filesystem.open_output_stream(where) as stream:\n"
        "        stream.write(b'PAR1' + bytes(16))\n"
        "pq.write_table = half_written\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    interpreter = str(project / ".venv" / "bin" / "python")
    result = execute([interpreter, "-c", crash, *stack.command, "--run-date", RUN_DATES[1]])
    assert result.returncode == 1
    assert "cannot write" in result.stderr
    check_dataset(moto, stack)
    query_and_tear_down(readme, stack)


def docker_cli() -> list[str]:
    return shlex.split(os.environ.get("GROUNDWORK_DOCKER", "docker"))


@pytest.mark.docker
@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_pipeline_on_moto_from_its_image(render_copy, moto: Moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The image, run as the job definition runs it (read-only, UID 10001), on host network."""
    info = subprocess.run([*docker_cli(), "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        pytest.skip(f"Docker unavailable: {(info.stderr or info.stdout).strip()[-300:]}")
    project = render_copy(PIPELINE)
    lockers.lock(project, "uv", PIPELINE["python_version"])
    tag = f"groundwork-test/aws-pipeline:{uuid.uuid4().hex[:10]}"
    build = os.environ.get("GROUNDWORK_DOCKER_BUILD")
    build_cli = shlex.split(build) if build else [*docker_cli(), "build"]
    try:
        run([*build_cli, "--tag", tag, str(project)], env={"DOCKER_BUILDKIT": "1"}, timeout=1800)
        readme, stack = deploy_pipeline(project, moto, tmp_path / "readme")
        options = [f"--env={key}={value}" for key, value in moto.env.items()]

        def pipeline(args: list[str]) -> subprocess.CompletedProcess[str]:
            # The container reaches moto (127.0.0.1 on the host) through the host's network.
            return subprocess.run(
                [*docker_cli(), "run", "--rm", "--network=host", "--read-only",
                 "--user=10001", *options, tag, *args],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip

        run_the_pipeline(pipeline, moto, stack, tmp_path)
        check_dataset(moto, stack)
        query_and_tear_down(readme, stack)
    finally:
        subprocess.run([*docker_cli(), "rmi", "--force", tag], capture_output=True, check=False)
