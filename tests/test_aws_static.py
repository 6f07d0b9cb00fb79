"""AWS, fast tier, statically: infra/aws.yml of every aws render is clean for cfn-lint (zero
findings, informational checks included) and checkov (zero failed checks, every skip
inline with its reason); the stack's outputs, trust policy and permissions agree with
deploy.yml; the Glue columns are the pipeline's pyarrow schema; hostile free text gives a
valid stack. Shared readers and the judges: tests/aws_stack.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from aws_stack import (
    ACTION_PERMISSIONS,
    AWS_RENDERS,
    CLI_EXTRA,
    PIPELINE,
    SERVICE,
    UNSCOPED,
    aws_table,
    blocks_with,
    deploy_variables,
    judged,
    load_stack,
    load_workflow,
    output_key,
)
from helpers import include_module, params, run, tool
from matrix import ROOT, Answers, combo_id

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
