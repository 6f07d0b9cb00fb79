"""infra/aws.yml's Glue table describes exactly the dataset the pipeline writes (SCHEMA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from demo_project.dataset import PARTITION, SCHEMA

STACK = Path(__file__).resolve().parent.parent / "infra" / "aws.yml"
# The Glue (Hive) name of each Arrow type the schema uses.
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


def glue_table() -> dict[str, Any]:
    (table,) = resources("AWS::Glue::Table")
    table_input: dict[str, Any] = table["TableInput"]
    return table_input


def test_the_columns_are_the_schema() -> None:
    columns = glue_table()["StorageDescriptor"]["Columns"]
    assert [(column["Name"], column["Type"]) for column in columns] == [
        (field.name, GLUE_TYPES[field.type]) for field in SCHEMA
    ]
    assert [column["Comment"] for column in columns] == [
        field.metadata[b"comment"].decode() for field in SCHEMA
    ]


def test_partitions_are_run_dates_found_by_projection() -> None:
    table = glue_table()
    assert table["PartitionKeys"] == [{"Name": PARTITION, "Type": "string"}]
    parameters = table["Parameters"]
    assert parameters["classification"] == "parquet"
    assert parameters["projection.enabled"] == "true"
    assert parameters[f"projection.{PARTITION}.type"] == "date"
    assert parameters[f"projection.{PARTITION}.format"] == "yyyy-MM-dd"
    location = table["StorageDescriptor"]["Location"]["Fn::Sub"]
    template = parameters["storage.location.template"]["Fn::Sub"]
    placeholder = "${!" + PARTITION + "}"  # Fn::Sub writes ${!x} for a literal ${x}
    assert template == f"{location}{PARTITION}={placeholder}/"


def test_the_batch_job_writes_where_the_table_reads() -> None:
    (job,) = resources("AWS::Batch::JobDefinition")
    command = job["ContainerProperties"]["Command"]
    output = command[command.index("--output") + 1]["Fn::Sub"]
    assert f"{output}/" == glue_table()["StorageDescriptor"]["Location"]["Fn::Sub"]
