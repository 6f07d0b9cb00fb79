"""One shard of a run: which slice it is, and the work itself (read, score, write).

A shard knows its slice from ``--shard INDEX/COUNT`` or from the job engine that started
it: an AWS Batch array job (``AWS_BATCH_JOB_ARRAY_INDEX`` and ``AWS_BATCH_JOB_ARRAY_SIZE``)
or a Cloud Run job (``CLOUD_RUN_TASK_INDEX`` and ``CLOUD_RUN_TASK_COUNT``). All shards of
a run and its commit share a run id: ``--run-id``, else the engine's (the array job's
parent id on AWS Batch, the execution's name on Cloud Run and Container Apps); a run of
one shard outside any engine makes up its own.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from demo_project.dataset import (
    REJECTS,
    RESULTS,
    WRITTEN,
    DatasetError,
    ShardReport,
    ShardWriter,
    check_run_id,
    repeated,
)
from demo_project.inputs import Batch, Plan, read

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import numpy as np

    from demo_project.locations import Location
    from demo_project.model import Model

SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (from 0) of run `run_id`."""

    index: int
    count: int
    run_id: str

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(flag: str | None, run_id: str | None, environ: Mapping[str, str]) -> Shard:
    """The shard this process runs: ``--shard``, else the job engine's, else 0/1."""
    engine_id = _engine_run_id(environ)
    if flag is not None:
        found = SHARD.match(flag.strip())
        if not found:
            msg = f"--shard {flag!r}: write INDEX/COUNT, e.g. 0/4 (INDEX from 0)"
            raise DatasetError(msg)
        index, count = int(found.group(1)), int(found.group(2))
    elif "AWS_BATCH_JOB_ARRAY_INDEX" in environ:
        index = int(environ["AWS_BATCH_JOB_ARRAY_INDEX"])
        count = int(environ.get("AWS_BATCH_JOB_ARRAY_SIZE", "0"))
    elif "CLOUD_RUN_TASK_INDEX" in environ:
        index = int(environ["CLOUD_RUN_TASK_INDEX"])
        count = int(environ.get("CLOUD_RUN_TASK_COUNT", "0"))
    else:
        index, count = 0, 1
    if not 0 <= index < count:
        msg = f"shard {index} of {count}: the index must be from 0 to the count minus 1"
        raise DatasetError(msg)
    chosen = run_id or engine_id
    if chosen is None:
        if count > 1:
            msg = "several shards need the same --run-id, to find each other at the commit"
            raise DatasetError(msg)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        chosen = f"{stamp}-{secrets.token_hex(3)}"
    return Shard(index, count, check_run_id(chosen))


def _engine_run_id(environ: Mapping[str, str]) -> str | None:
    """The run id the job engine gives every shard of one run."""
    if "AWS_BATCH_JOB_ID" in environ:  # an array child's id is "<parent id>:<index>"
        return environ["AWS_BATCH_JOB_ID"].split(":", 1)[0]
    for name in ("CLOUD_RUN_EXECUTION", "CONTAINER_APP_JOB_EXECUTION_NAME"):
        if environ.get(name):
            return environ[name]
    return None


@dataclass(frozen=True)
class Work:
    """What a shard does: its slice of the run, the model, where results go, batch size."""

    shard: Shard
    run_date: dt.date
    model: Model
    output: Location | None
    batch_size: int


@dataclass
class Outcome:
    """What a shard did, for the summary and its report."""

    report: ShardReport
    scores: list[np.ndarray[Any, Any]]
    score_sum: float


def run_shard(
    work: Work,
    source: Plan | Callable[[int], Iterable[Batch]],
    *,
    keep_scores: bool = False,
) -> Outcome:
    """Score a shard's part of the input and write it under the output root, if any.

    `source` is the input cut into parts, or a function giving the batches for a number
    of features (a built-in sample). Memory follows the batch size, not the input: each
    batch is scored and written before the next is read.
    """
    shard, model, batch_size = work.shard, work.model, work.batch_size
    plan = source if isinstance(source, Plan) else None
    batches = None if isinstance(source, Plan) else source
    parts = plan.shard(shard.index, shard.count) if plan is not None else []
    report = ShardReport(
        run_id=shard.run_id,
        run_date=work.run_date.isoformat(),
        shard=shard.index,
        shards=shard.count,
        input=plan.location if plan is not None else "(built-in sample)",
        plan=plan.fingerprint if plan is not None else "",
        parts=[part.key for part in parts],
        total_parts=len(plan.parts) if plan is not None else 0,
        input_files=sorted({str(part.file.location) for part in parts}),
        model={"version": model.version, "checksum": model.checksum, "uri": model.uri},
    )
    writer = ShardWriter(work.output, report) if work.output is not None else None
    outcome = Outcome(report, [], 0.0)

    def all_batches() -> Iterable[Batch]:
        if batches is not None:
            yield from batches(model.n_features)
        for part in parts:
            yield from read(part, model.n_features, batch_size)

    try:
        for batch in all_batches():
            report.rows_read += batch.rows_read
            if batch.rejects is not None:
                report.rows_rejected += batch.rejects.num_rows
                reasons = report.rejects_by_reason
                for reason, count in _count(batch.rejects.column(2)).items():
                    reasons[reason] = reasons.get(reason, 0) + count
                if writer is not None:
                    writer.write(REJECTS, batch.rejects)
            if not len(batch.source_rows):
                continue
            scores = model.predict(batch.features)
            report.rows_scored += len(scores)
            outcome.score_sum += float(scores.sum())
            if keep_scores:
                outcome.scores.append(scores)
            if writer is not None:
                count = len(scores)
                results = pa.RecordBatch.from_arrays(
                    [
                        repeated(batch.source_file, count),
                        pa.array(batch.source_rows),
                        pa.array(scores, pa.float64()),
                        repeated(model.version, count),
                    ],
                    schema=WRITTEN[RESULTS],
                )
                writer.write(RESULTS, results)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return outcome


def _count(reasons: pa.Array) -> dict[str, int]:
    """How many rows have each reason."""
    counted = reasons.value_counts()
    return {
        str(value): int(count)
        for value, count in zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        )
    }
