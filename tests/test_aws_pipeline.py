"""AWS, install and docker tiers: the pipeline's stacks deployed to a local AWS (moto) by
the README's commands, staging's deploy job (a push to main) run against them, then the
pipeline run in staging as the Batch job would: from the rendered project's own
environment (uv) and from its image (read-only, non-root, reaching moto over the host's
network). Its results are read back through the Glue table. Shared set-up:
tests/aws_stack.py, tests/aws_workflow.py; the `moto` fixture: tests/conftest.py.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

import lockers
from aws_stack import (
    PIPELINE,
    RUN_DATES,
    STAGING,
    Moto,
    Readme,
    batch_service_role,
    blocks_with,
    check_deploy_role,
    check_log_group,
    check_repository,
    commands_of,
    create_what_moto_does_not,
    deploy_by_readme,
    stack_resources,
    teardown_by_readme,
)
from aws_workflow import Job, push_image
from helpers import include_module, run
from images import build_cli, docker_cli
from matrix import combo_id

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class PipelineStack:
    variables: dict[str, str]
    bucket: str
    command: list[str]
    database: str
    table: str


def release(readme: Readme, variables: dict[str, str]) -> str:
    """deploy.yml's staging job as a push to main runs it: the image it builds (pushed to
    ECR), then its deploy step."""
    commit = "c0ffee" * 6 + "c0ff"
    job = Job(readme, STAGING, variables, {"github.sha": commit})
    job.ok("Look up this commit's image")
    job.outputs["build"] = {"digest": push_image(readme.moto, variables["ECR_REPOSITORY"], commit)}
    job.ok("Deploy the image to staging")
    return f"{job.outputs['found']['repository']}@{job.outputs['build']['digest']}"


def deploy_pipeline(project: Path, moto: Moto, folder: Path) -> tuple[Readme, PipelineStack]:
    """The README's set-up of the pipeline's stacks on moto, checked for what moto created
    in staging."""
    readme = Readme(project, moto, folder)
    variables = deploy_by_readme(readme, extra=f"BatchServiceRoleArn={batch_service_role(moto)}")[
        STAGING
    ]
    name = variables["BATCH_JOB_DEFINITION"]
    check_deploy_role(moto, variables["AWS_ROLE_ARN"], STAGING)
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
    image = release(readme, variables)
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
    teardown_by_readme(readme, stack.variables["ECR_REPOSITORY"])
    # The data bucket outlives the stack (DeletionPolicy: RetainExceptOnCreate), with the
    # results in it.
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


@pytest.mark.docker
@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_pipeline_on_moto_from_its_image(
    docker_ready, render_copy, moto: Moto, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The image, run as the job definition runs it (read-only, UID 10001), on host network."""
    project = render_copy(PIPELINE)
    lockers.lock(project, "uv", PIPELINE["python_version"])
    tag = f"groundwork-test/aws-pipeline:{uuid.uuid4().hex[:10]}"
    try:
        run([*build_cli(), "--tag", tag, str(project)], env={"DOCKER_BUILDKIT": "1"}, timeout=1800)
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
