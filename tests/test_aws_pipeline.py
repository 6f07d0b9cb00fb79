"""AWS pipeline renders: a run's wiring and roles statically (fast tier), then for real on a
local AWS (moto): the staging and production stacks deployed by the README's commands,
staging's deploy job (a push to main), and runs as the state machine submits them, from
the rendered project's environment (install tier) and from its image (docker tier:
read-only, non-root, on the host's network).

What the state machine does cannot execute on moto (its Batch jobs would need real
containers), so the tests play it: they read the commands from its definition, run the
shards at once as AWS Batch array children (AWS_BATCH_JOB_ARRAY_INDEX/SIZE, the parent's
AWS_BATCH_JOB_ID) with the environment of the job definition the deploy registered, then
the commit. Results are read back the way Athena reads them: from the Glue partition's
location, with the Glue table's columns. Shared set-up: tests/aws_stack.py,
tests/aws_workflow.py; the `moto` fixture: tests/conftest.py.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

import lockers
from aws_stack import (
    PIPELINE,
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
    load_stack,
    stack_resources,
    teardown_by_readme,
)
from aws_workflow import Job, push_image
from helpers import include_module, run
from images import build_cli, docker_cli
from matrix import combo_id

DATASET = include_module("dataset").dataset
RESULTS, REJECTS = DATASET["results"]["table"], DATASET["rejects"]["table"]
FIRST, SECOND = "2026-01-31", "2026-01-30"
# The packaged model, which the jobs use when the stack has no ModelUri.
SAMPLE_MODEL = json.loads(
    next((Path(__file__).parents[1] / "template" / "src").glob("*/*sample_model.json*")).read_text(
        encoding="utf-8"
    )
)["version"]


# --- the state machine and the roles, statically ----------------------------------------


def definition(project: Path) -> dict[str, Any]:
    """The state machine's definition with its substitutions made, as Step Functions does."""
    properties = load_stack(project)["Resources"]["StateMachine"]["Properties"]
    text = json.dumps(properties["Definition"])
    for key, value in properties["DefinitionSubstitutions"].items():
        text = text.replace("${" + key + "}", key.upper() if isinstance(value, dict) else value)
    result: dict[str, Any] = json.loads(text)
    return result


def states_array(expression: str, state: dict[str, Any]) -> list[str]:
    """Evaluate `States.Array('run', '--run-date', $.run_date, ...)` against a state."""
    found = re.fullmatch(r"States\.Array\((.*)\)", expression)
    assert found, expression
    words = []
    for literal, path in re.findall(r"'([^']*)'|(\$[.\w]+)", found.group(1)):
        value: Any = state
        for key in path.split(".")[1:] if path else []:
            value = value[key]
        words.append(str(value) if path else literal)
    return words


def command_of(machine: dict[str, Any], state: str, values: dict[str, Any]) -> list[str]:
    overrides = machine["States"][state]["Parameters"]["ContainerOverrides"]
    return states_array(overrides["Command.$"], values)


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for policy in role["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_a_run_is_its_shards_then_the_commit_on_one_date_and_run_id(render) -> None:  # type: ignore[no-untyped-def]
    project = render(PIPELINE)
    machine = definition(project)
    states = machine["States"]
    # Every path ends in RunAndCommit (one shard) or Commit, and Commit only follows the
    # array job: the .sync integration waits until every child has succeeded.
    paths, todo = [], [[machine["StartAt"]]]
    while todo:
        path = todo.pop()
        state = states[path[-1]]
        nexts = [c["Next"] for c in state.get("Choices", [])]
        nexts += [state[key] for key in ("Next", "Default") if key in state]
        if state.get("End"):
            paths.append(path)
        todo += [[*path, name] for name in nexts if name not in path]
    assert {path[-1] for path in paths} == {"RunAndCommit", "Commit"}
    assert all(path[-2] == "RunTheShards" for path in paths if path[-1] == "Commit")
    assert set(states) == {name for path in paths for name in path}, "unreachable states"
    for name in ("RunAndCommit", "RunTheShards", "Commit"):
        assert states[name]["Resource"] == "SUBMITJOB", name  # arn:...:batch:submitJob.sync
        parameters = states[name]["Parameters"]
        assert (parameters["JobQueue"], parameters["JobDefinition"]) == ("JOBQUEUE", "NAME")
    # AWS Batch arrays have 2 to 10,000 children: one shard is a plain job.
    (choice,) = states["HowManyShards"]["Choices"]
    assert choice == {"Variable": "$.shards", "NumericGreaterThan": 1, "Next": "RunTheShards"}
    assert states["RunTheShards"]["Parameters"]["ArrayProperties"] == {"Size.$": "$.shards"}
    # The shards and the commit get the same run date, and the commit the array's id, which
    # is the run id every shard wrote under (AWS_BATCH_JOB_ID is "<array id>:<index>").
    values = {"run_date": FIRST, "shards_job": {"JobId": "array-id"}}
    assert command_of(machine, "RunTheShards", values) == ["run", "--run-date", FIRST]
    assert command_of(machine, "RunAndCommit", values) == ["run", "--run-date", FIRST]
    assert command_of(machine, "Commit", values) == [
        "commit", "--run-date", FIRST, "--run-id", "array-id",
    ]  # fmt: skip
    assert states["RunTheShards"]["ResultSelector"] == {"JobId.$": "$.JobId"}
    assert states["RunTheShards"]["ResultPath"] == "$.shards_job"
    # A scheduled run takes its date from the event, so the schedule's shards and commit agree.
    event = states["DateOfTheEvent"]["Parameters"]
    assert event["run_date.$"] == "States.ArrayGetItem(States.StringSplit($.time, 'T'), 0)"
    rule = load_stack(project)["Resources"]["ScheduleRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "StateMachine"}
    assert target["InputTransformer"]["InputPathsMap"] == {"time": "$.time"}
    template = json.loads(target["InputTransformer"]["InputTemplate"]["Fn::Sub"].replace(
        "<time>", '"2026-01-31T06:00:00Z"').replace("${Shards}", "4"))  # fmt: skip
    assert template == {"time": "2026-01-31T06:00:00Z", "shards": 4}


def test_the_roles_allow_what_runs_on_this_stack_only(render) -> None:  # type: ignore[no-untyped-def]
    project = render(PIPELINE)
    resources = load_stack(project)["Resources"]
    # The state machine submits this queue's jobs of this job definition, and watches them.
    granted = {
        action: as_list(s["Resource"])
        for s in statements(resources["StateMachineRole"])
        for action in as_list(s["Action"])
    }
    definition_arn = "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job-definition/${Name}-${Environment}"
    assert granted["batch:SubmitJob"] == [
        {"Ref": "JobQueue"}, {"Fn::Sub": definition_arn}, {"Fn::Sub": definition_arn + ":*"}
    ]  # fmt: skip
    assert granted["batch:DescribeJobs"] == ["*"]  # no narrower resource exists
    assert granted["batch:TerminateJob"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job/*"}
    ]
    rule = "rule/StepFunctionsGetEventsForBatchJobsRule"
    for action in ("events:PutRule", "events:PutTargets", "events:DescribeRule"):
        (arn,) = granted[action]
        assert arn["Fn::Sub"].endswith(rule), action
    assert set(granted) == {
        "batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob",
        "events:PutRule", "events:PutTargets", "events:DescribeRule",
    }  # fmt: skip
    (start,) = statements(resources["ScheduleRole"])
    assert (start["Action"], start["Resource"]) == (
        "states:StartExecution",
        {"Ref": "StateMachine"},
    )
    # The jobs: the Glue calls the commit makes (glue.py), on the two tables only.
    glue_py = (project / "src" / "demo_project" / "glue.py").read_text(encoding="utf-8")
    called = {
        "glue:" + "".join(part.title() for part in name.split("_"))
        for name in re.findall(r"\bglue\.([a-z_]+)\(", glue_py)
    }
    (glue,) = [s for s in statements(resources["JobRole"]) if s["Sid"] == "PointTheGluePartitions"]
    assert set(glue["Action"]) == called == {
        "glue:GetTable", "glue:CreatePartition", "glue:UpdatePartition",
    }  # fmt: skip
    tables = sorted(
        r["Fn::Sub"].rsplit("/", 1)[1] for r in glue["Resource"] if ":table/" in r["Fn::Sub"]
    )
    assert tables == sorted([RESULTS, REJECTS])
    s3 = {s["Sid"]: s for s in statements(resources["JobRole"]) if s["Sid"] != glue["Sid"]}
    assert s3["ReadInput"]["Resource"]["Fn::Sub"].endswith(f"/{DATASET['input']}/*")
    assert s3["WriteResults"]["Resource"]["Fn::Sub"].endswith(f"/{DATASET['prefix']}/*")


# --- the stack on moto ------------------------------------------------------------------


@dataclass
class PipelineStack:
    variables: dict[str, str]
    bucket: str
    database: str
    environment: dict[str, str]
    machine: dict[str, Any]
    name: str


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
    machines = moto.client("stepfunctions").list_state_machines()["stateMachines"]
    (machine,) = [m for m in machines if m["name"] == name]
    described = moto.client("stepfunctions").describe_state_machine(
        stateMachineArn=machine["stateMachineArn"]
    )
    assert described["roleArn"].rsplit("/", 1)[1] == created["StateMachineRole"]

    database, _ = create_what_moto_does_not(moto, project, name)

    # The first revision is the stack's; a release registers the next with its image.
    batch = moto.client("batch")
    (first,) = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
    image = release(readme, variables)
    revisions = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
    newest = max(revisions["jobDefinitions"], key=lambda d: d["revision"])
    assert newest["revision"] == first["revision"] + 1
    container = newest["containerProperties"]
    assert container["image"] == image
    for key in ("command", "environment", "jobRoleArn", "executionRoleArn", "user"):
        assert container[key] == first["containerProperties"][key], key
    assert container["jobRoleArn"].rsplit("/", 1)[1] == created["JobRole"]
    assert container["user"] == "10001"
    assert container["readonlyRootFilesystem"] is True
    assert container["command"] == ["run"]
    environment = {item["name"]: item.get("value", "") for item in container["environment"]}
    assert environment["INPUT_URI"] == f"s3://{bucket}/{DATASET['input']}/{{run_date}}/"
    assert environment["OUTPUT_URI"] == f"s3://{bucket}/{DATASET['prefix']}"
    # moto's CloudFormation made no Glue database, so its !Ref gave no value: use the name
    # of the one created from the template's own properties (create_what_moto_does_not).
    assert set(environment) == {"INPUT_URI", "OUTPUT_URI", "GLUE_DATABASE"}  # no ModelUri
    environment["GLUE_DATABASE"] = database
    stack = PipelineStack(variables, bucket, database, environment, definition(project), name)
    return readme, stack


class Running(Protocol):
    def wait(self) -> subprocess.CompletedProcess[str]: ...
    def kill(self) -> None: ...


class Runner(Protocol):
    def __call__(self, argv: list[str], env: dict[str, str]) -> Running: ...


@dataclass
class Process:
    """A job run as a process of the project's own environment."""

    process: subprocess.Popen[str]
    argv: list[str]

    def wait(self) -> subprocess.CompletedProcess[str]:
        out, err = self.process.communicate(timeout=600)
        return subprocess.CompletedProcess(self.argv, self.process.returncode, out, err)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)


@dataclass
class Container(Process):
    """A job run as a container of the image; killing it kills the container."""

    name: str = ""

    def kill(self) -> None:
        subprocess.run(
            [*docker_cli(), "kill", "--signal", "KILL", self.name], check=True, capture_output=True
        )


def children(
    runner: Runner, command: list[str], environment: dict[str, str], count: int
) -> list[Running]:
    """An AWS Batch array job's children, all at once: index, size, the parent's id."""
    parent = str(uuid.uuid4())
    return [
        runner(
            command,
            {
                **environment,
                "AWS_BATCH_JOB_ID": f"{parent}:{index}",
                "AWS_BATCH_JOB_ARRAY_INDEX": str(index),
                "AWS_BATCH_JOB_ARRAY_SIZE": str(count),
            },
        )
        for index in range(count)
    ]


def run_and_commit(runner: Runner, stack: PipelineStack, date: str, shards: int) -> str:
    """What the state machine does for {"run_date": date, "shards": shards}; the run id."""
    values: dict[str, Any] = {"run_date": date, "shards": shards}
    if shards == 1:
        job = runner(command_of(stack.machine, "RunAndCommit", values), {
            **stack.environment, "AWS_BATCH_JOB_ID": str(uuid.uuid4())
        })  # fmt: skip
        done = job.wait()
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["run_id"])
    jobs = children(
        runner, command_of(stack.machine, "RunTheShards", values), stack.environment, shards
    )
    summaries = []
    for job in jobs:
        done = job.wait()
        assert done.returncode == 0, done.stderr
        summaries.append(json.loads(done.stdout))
    assert sorted(s["shard"] for s in summaries) == [f"{i}/{shards}" for i in range(shards)]
    assert not any(s["committed"] for s in summaries)
    (run_id,) = {s["run_id"] for s in summaries}
    values["shards_job"] = {"JobId": run_id}
    done = runner(command_of(stack.machine, "Commit", values), stack.environment).wait()
    assert done.returncode == 0, done.stderr
    return run_id


ARROW = {t["glue"]: getattr(pa, t["pyarrow"])() for t in include_module("dataset").types.values()}


def through_glue(moto: Moto, stack: PipelineStack, table: str, date: str) -> tuple[str, pa.Table]:
    """A partition read as Athena reads it: every file under the Glue partition's location,
    with the Glue table's columns (which the files hold exactly)."""
    glue = moto.client("glue")
    columns = glue.get_table(DatabaseName=stack.database, Name=table)["Table"]["StorageDescriptor"][
        "Columns"
    ]
    partition = glue.get_partition(
        DatabaseName=stack.database, TableName=table, PartitionValues=[date]
    )
    location = partition["Partition"]["StorageDescriptor"]["Location"]
    assert location.startswith(
        f"s3://{stack.bucket}/{DATASET['prefix']}/{DATASET['partition']}={date}/"
    )
    filesystem = moto.filesystem()
    selector = pafs.FileSelector(
        location.removeprefix("s3://"), recursive=True, allow_not_found=True
    )
    files = [i.path for i in filesystem.get_file_info(selector) if i.type == pafs.FileType.File]
    schema = pa.schema([(c["Name"], ARROW[c["Type"]]) for c in columns])
    if not files:
        return location, schema.empty_table()
    found = ds.dataset(files, filesystem=filesystem, format="parquet")
    assert [(f.name, f.type) for f in found.schema] == [(f.name, f.type) for f in schema]
    return location, found.to_table()


def upload_input(moto: Moto, stack: PipelineStack, folder: Path) -> None:
    """Day FIRST: two CSV files (3 bad rows) and a Parquet file of 5 row groups (2 bad)."""
    s3 = moto.client("s3")
    prefix = f"{DATASET['input']}/{FIRST}"
    lines = [f"{i},{i % 5},{i % 3}" for i in range(100)]
    lines[3], lines[40], lines[77] = "1,2", "1,x,3", "4,,6"
    s3.put_object(
        Bucket=stack.bucket,
        Key=f"{prefix}/a.csv",
        Body=("a,b,c\n" + "\n".join(lines) + "\n").encode(),
    )
    s3.put_object(
        Bucket=stack.bucket, Key=f"{prefix}/b.csv", Body=("a,b,c\n" + "1,2,3\n" * 50).encode()
    )
    values = np.arange(1000, dtype=np.float64)
    values[[10, 900]] = np.nan
    path = folder / "c.parquet"
    pq.write_table(pa.table({"a": values, "b": -values, "c": values % 7}), path, row_group_size=200)
    s3.upload_file(str(path), stack.bucket, f"{prefix}/c.parquet")


def scenario(runner: Runner, moto: Moto, stack: PipelineStack, folder: Path) -> None:
    """Four shards and the commit; a rerun with two; a shard killed midway."""
    glue, s3 = moto.client("glue"), moto.client("s3")
    upload_input(moto, stack, folder)
    first_run = run_and_commit(runner, stack, FIRST, 4)
    location, scores = through_glue(moto, stack, RESULTS, FIRST)
    assert location.endswith(f"/{DATASET['run']}={first_run}/{RESULTS}/")
    _, rejects = through_glue(moto, stack, REJECTS, FIRST)
    assert (scores.num_rows, rejects.num_rows) == (1150 - 5, 5)
    assert set(rejects.column("reason").to_pylist()) == {
        "wrong number of features: expected 3, got 2", "not a number in column 2",
        "missing value in column 2", "non-finite value",
    }  # fmt: skip
    assert set(scores.column("model_version").to_pylist()) == {SAMPLE_MODEL}
    manifest = json.loads(s3.get_object(
        Bucket=stack.bucket, Key=f"{DATASET['prefix']}/{DATASET['partition']}={FIRST}/{DATASET['manifest']}"
    )["Body"].read())  # fmt: skip
    assert [s["rows_read"] > 0 for s in manifest["shards"]] == [True] * 4
    assert manifest["rows"] == {"read": 1150, "scored": 1145, "rejected": 5}

    # A rerun with two shards, one input file fewer: no stale rows, the old run is gone.
    s3.delete_object(Bucket=stack.bucket, Key=f"{DATASET['input']}/{FIRST}/b.csv")
    second_run = run_and_commit(runner, stack, FIRST, 2)
    location, scores = through_glue(moto, stack, RESULTS, FIRST)
    assert location.endswith(f"/{DATASET['run']}={second_run}/{RESULTS}/")
    assert scores.num_rows == 1100 - 5
    listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix=DATASET["prefix"] + "/")["Contents"]
    assert not [o["Key"] for o in listed if first_run in o["Key"]]

    # A shard killed midway: the day's committed run reads back unchanged.
    small = f"{DATASET['input']}/{SECOND}/small.csv"
    s3.put_object(Bucket=stack.bucket, Key=small, Body=b"a,b,c\n1,2,3\n4,5,6\n")
    run_and_commit(runner, stack, SECOND, 1)
    before = through_glue(moto, stack, RESULTS, SECOND)
    assert before[1].num_rows == 2
    big = folder / "big.parquet"
    values = np.random.default_rng(7).random(2_000_000)
    pq.write_table(pa.table({"a": values, "b": values, "c": values}), big, row_group_size=250_000)
    s3.upload_file(str(big), stack.bucket, f"{DATASET['input']}/{SECOND}/big.parquet")
    command = command_of(stack.machine, "RunTheShards", {"run_date": SECOND})
    killed, survivor = children(runner, [*command, "--batch-size", "50000"], stack.environment, 2)
    uploads: list[str] = []
    deadline = time.monotonic() + 300
    while not uploads:  # killed's results are half uploaded: it is midway
        assert time.monotonic() < deadline, "the shard never started writing"
        found = s3.list_multipart_uploads(Bucket=stack.bucket).get("Uploads", [])
        uploads = [
            u["Key"] for u in found if u["Key"].endswith(f"/{RESULTS}/part-00000-of-00002.parquet")
        ]
        time.sleep(0.1)
    killed.kill()
    assert killed.wait().returncode != 0
    done = survivor.wait()
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    commit = command_of(
        stack.machine, "Commit", {"run_date": SECOND, "shards_job": {"JobId": run_id}}
    )
    done = runner(commit, stack.environment).wait()
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "shard(s) 0 of 2 did not finish" in done.stderr
    after = through_glue(moto, stack, RESULTS, SECOND)
    assert after[0] == before[0]
    assert after[1].equals(before[1])
    (upload,) = uploads
    with pytest.raises(s3.exceptions.ClientError):  # never completed: no object
        s3.head_object(Bucket=stack.bucket, Key=upload)
    assert glue.get_partition(
        DatabaseName=stack.database, TableName=REJECTS, PartitionValues=[SECOND]
    )


def query_and_tear_down(readme: Readme, stack: PipelineStack) -> None:
    """The README's Athena queries (moto answers without running SQL), then tear-down."""
    (block,) = blocks_with(readme.project, "aws athena")
    queries = [c for c in commands_of(block) if c.startswith("aws athena")]
    assert [
        f"FROM {stack.database}.{table}" in q
        for q, table in zip(queries, (RESULTS, REJECTS), strict=True)
    ] == [True, True]
    for query in queries:
        assert readme.run(query).strip()
    teardown_by_readme(readme, stack.variables["ECR_REPOSITORY"])
    # The data bucket outlives the stack (DeletionPolicy: RetainExceptOnCreate), with the
    # results in it.
    listed = readme.moto.client("s3").list_objects_v2(
        Bucket=stack.bucket, Prefix=f"{DATASET['prefix']}/"
    )
    assert [o for o in listed["Contents"] if o["Key"].endswith(DATASET["manifest"])]


def start_by_readme(readme: Readme, stack: PipelineStack) -> None:
    """README step 4 up to the start of the run (moto's executions never finish)."""
    (block,) = blocks_with(readme.project, "aws stepfunctions start-execution")
    lines = block.replace("\\\n", " ").splitlines()
    started = [line for line in lines if "while" not in line and "describe-execution" not in line]
    (readme.project / "rows.csv").write_text("a,b,c\n1,2,3\n3,2,1\n", encoding="utf-8")
    readme.run("\n".join(started) + '\necho "$execution"')
    s3 = readme.moto.client("s3")
    assert s3.head_object(Bucket=stack.bucket, Key=f"{DATASET['input']}/{FIRST}/rows.csv")
    (machine,) = [
        m
        for m in readme.moto.client("stepfunctions").list_state_machines()["stateMachines"]
        if m["name"] == stack.name
    ]
    (execution,) = readme.moto.client("stepfunctions").list_executions(
        stateMachineArn=machine["stateMachineArn"]
    )["executions"]
    described = readme.moto.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(described["input"]) == {"run_date": FIRST, "shards": 2}
    s3.delete_object(Bucket=stack.bucket, Key=f"{DATASET['input']}/{FIRST}/rows.csv")


@pytest.mark.install
@pytest.mark.xdist_group(combo_id(PIPELINE))
def test_pipeline_on_moto_from_its_environment(render_copy, moto: Moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = render_copy(PIPELINE)
    python = PIPELINE["python_version"]
    lockers.lock(project, "uv", python)
    lockers.install(project, "uv", python)
    readme, stack = deploy_pipeline(project, moto, tmp_path / "readme")
    start_by_readme(readme, stack)
    command = str(project / ".venv" / "bin" / "demo-project")
    base = {**lockers.manager_env(python), **moto.env}

    def runner(argv: list[str], env: dict[str, str]) -> Running:
        process = subprocess.Popen(
            [command, *argv], cwd=project, env={**base, **env}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        return Process(process, argv)

    scenario(runner, moto, stack, tmp_path)

    # The README's backfill on AWS: an array job of one child per day, each committing its
    # own (three of its children here).
    (block,) = blocks_with(project, "aws batch submit-job")
    (submit,) = commands_of(block)
    backfill = json.loads(re.search(r"--container-overrides '(.*)'", submit).group(1))["command"]
    size = int(re.search(r"size=(\d+)", submit).group(1))
    first = backfill[backfill.index("--from") + 1]
    days = [f"{first[:-2]}{day:02d}" for day in (1, 2, 3)]
    s3 = moto.client("s3")
    for day in days:
        s3.put_object(
            Bucket=stack.bucket, Key=f"{DATASET['input']}/{day}/rows.csv", Body=b"a,b,c\n1,2,3\n"
        )
    parent = str(uuid.uuid4())
    jobs = [
        runner(backfill, {**stack.environment, "AWS_BATCH_JOB_ID": f"{parent}:{i}",
                          "AWS_BATCH_JOB_ARRAY_INDEX": str(i), "AWS_BATCH_JOB_ARRAY_SIZE": str(size)})
        for i in range(3)
    ]  # fmt: skip
    for job in jobs:
        done = job.wait()
        assert done.returncode == 0, done.stderr
    for day in days:
        assert through_glue(moto, stack, RESULTS, day)[1].num_rows == 1

    # The README's local backfill (nox, three days here), processes two at a time.
    readme_text = (project / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme_text, re.DOTALL)
    (block,) = [b for b in blocks if "backfill -- --from" in b]
    command_line = re.sub(r"--to \S+", "--to 2026-01-03", block.strip())
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        (project / "data" / day).mkdir(parents=True)
        (project / "data" / day / "rows.csv").write_text("a,b,c\n1,2,3\n4,5,6\n", encoding="utf-8")
    lockers.shell(command_line, project, python)
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        manifest = json.loads(
            (
                project / DATASET["prefix"] / f"{DATASET['partition']}={day}" / DATASET["manifest"]
            ).read_text(encoding="utf-8")
        )
        assert manifest["rows"]["scored"] == 2

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

        def runner(argv: list[str], env: dict[str, str]) -> Running:
            name = f"groundwork-shard-{uuid.uuid4().hex[:10]}"
            options = [f"--env={key}={value}" for key, value in {**moto.env, **env}.items()]
            # The container reaches moto (127.0.0.1 on the host) through the host's network.
            process = subprocess.Popen(
                [*docker_cli(), "run", "--rm", "--name", name, "--network=host", "--read-only",
                 "--user=10001", *options, tag, *argv],
                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            return Container(process, argv, name)

        scenario(runner, moto, stack, tmp_path)
        query_and_tear_down(readme, stack)
    finally:
        subprocess.run([*docker_cli(), "rmi", "--force", tag], capture_output=True, check=False)
