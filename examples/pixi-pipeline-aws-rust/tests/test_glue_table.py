"""infra/aws.yml's Glue tables describe exactly the datasets the pipeline writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from demo_project.dataset import PARTITION, SCHEMAS

STACK = Path(__file__).resolve().parent.parent / "infra" / "aws.yml"
# The Glue (Hive) name of each Arrow type the schemas use.
GLUE_TYPES = {
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.string(): "string",
}


class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (`!Sub x`) as their long forms (`{"Fn::Sub": x}`)."""


def _function(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {name: loader.construct_mapping(node, deep=True)}
    msg = f"unexpected YAML node {node!r}"
    raise TypeError(msg)


CloudFormationLoader.add_multi_constructor("!", _function)


def resources(kind: str) -> list[dict[str, Any]]:
    template = yaml.load(STACK.read_text(encoding="utf-8"), Loader=CloudFormationLoader)
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def glue_tables() -> dict[str, dict[str, Any]]:
    tables = [table["TableInput"] for table in resources("AWS::Glue::Table")]
    return {table["Name"]: table for table in tables}


def environment() -> dict[str, Any]:
    """The job's environment variables, those set under a condition (Fn::If) included."""
    (job,) = resources("AWS::Batch::JobDefinition")
    found = {}
    for item in job["ContainerProperties"]["Environment"]:
        variable = item["Fn::If"][1] if "Fn::If" in item else item
        found[variable["Name"]] = variable["Value"]
    return found


def test_there_is_a_table_per_dataset() -> None:
    assert sorted(glue_tables()) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_columns_are_the_schema(name: str) -> None:
    columns = glue_tables()[name]["StorageDescriptor"]["Columns"]
    assert [(column["Name"], column["Type"]) for column in columns] == [
        (field.name, GLUE_TYPES[field.type]) for field in SCHEMAS[name]
    ]
    assert [column["Comment"] for column in columns] == [
        field.metadata[b"comment"].decode() for field in SCHEMAS[name]
    ]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_partitions_are_run_dates_the_commit_registers(name: str) -> None:
    table = glue_tables()[name]
    assert table["PartitionKeys"] == [{"Name": PARTITION, "Type": "string"}]
    assert table["Parameters"]["classification"] == "parquet"
    # Catalog partitions: a projected partition could not move to a new run at once.
    assert not [key for key in table["Parameters"] if key.startswith("projection.")]
    location = table["StorageDescriptor"]["Location"]["Fn::Sub"]
    assert location == environment()["OUTPUT_URI"]["Fn::Sub"] + "/"


def test_the_job_may_point_exactly_these_tables() -> None:
    (role,) = [
        role
        for role in resources("AWS::IAM::Role")
        if "ecs-tasks.amazonaws.com" in str(role["AssumeRolePolicyDocument"])
        and "glue" in str(role.get("Policies"))
    ]
    (statement,) = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "glue:UpdatePartition" in statement["Action"]
    ]
    tables = [
        arn["Fn::Sub"].rsplit("/", 1)[1] for arn in statement["Resource"] if ":table/" in str(arn)
    ]
    assert sorted(tables) == sorted(SCHEMAS)
    assert environment()["GLUE_DATABASE"] == {"Ref": "GlueDatabase"}
