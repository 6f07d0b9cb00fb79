"""Command line of the pipeline: ``run`` a shard, ``commit`` a run, ``backfill`` dates,
``train`` the model.

Run ``demo-project --help``, or ``demo-project COMMAND --help``. ``run`` without ``--input``
scores a built-in sample, and without ``--output`` it only prints a summary, so the
container runs end to end with no data. A run of one shard commits its results itself;
the shards of a larger run leave that to ``commit``, once all have finished. Locations
can also come from the environment: ``INPUT_URI``, ``OUTPUT_URI`` and ``MODEL_URI`` (and
``GLUE_DATABASE`` for the commit). Errors end the command with one line on stderr and exit
code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from demo_project import train
from demo_project.dataset import DatasetError, commit, partition_of
from demo_project.inputs import Batch, plan
from demo_project.locations import Location, LocationError, parse, resolve
from demo_project.model import load_model
from demo_project.shards import Work, run_shard, shard_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

PROG = "demo-project"
SAMPLE_ROWS: list[list[float]] = [[1.0, 2.0, 3.0], [2.0, 0.5, 1.0], [0.0, 1.0, 4.0]]
BATCH_SIZE = 262_144
MAX_REJECT_FRACTION = 0.01


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the process exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or (words[0].startswith("-") and words[0] not in {"-h", "--help"}):
        words.insert(0, "run")  # options alone, as before the commands: `run`
    args = parser().parse_args(words)
    try:
        result: int = args.handler(args)
    except (DatasetError, LocationError, ValueError) as error:
        sys.stderr.write(f"{PROG}: error: {' '.join(str(error).split())}\n")
        return 1
    return result


def parser() -> argparse.ArgumentParser:
    """The commands and their options."""
    result = argparse.ArgumentParser(
        prog=PROG,
        description="Score rows of features with the model; write the scores as Parquet.",
    )
    commands = result.add_subparsers(title="commands", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="score the input (or one shard of it) and write the run date's results",
        description="Score the input, or one shard of it, with the model. A run of one "
        "shard commits its results; shards of a larger run wait for `commit`.",
    )
    _input_options(run)
    _output_option(run)
    run.add_argument("--run-date", help="the partition to write, YYYY-MM-DD (default: today, UTC)")
    run.add_argument(
        "--shard",
        metavar="INDEX/COUNT",
        help="run shard INDEX (from 0) of COUNT; default: from AWS Batch's or Cloud Run's "
        "task variables, else 0/1",
    )
    run.add_argument("--run-id", help="the id all shards of a run and its commit share")
    run.set_defaults(handler=command_run)

    committing = commands.add_parser(
        "commit",
        help="make a run whose shards all finished the committed run of its date",
        description="Check that every shard of the run finished, then commit it: the "
        "partition's manifest names the run and the Glue partitions point at it; earlier runs are deleted.",
    )
    _output_option(committing)
    committing.add_argument("--run-date", help="the run's date, YYYY-MM-DD (default: today, UTC)")
    committing.add_argument("--run-id", required=True, help="the run to commit")
    _reject_option(committing)
    committing.set_defaults(handler=command_commit)

    backfill = commands.add_parser(
        "backfill",
        help="run and commit every date of a range",
        description="Run every date from --from to --to, each as a run of one shard that "
        "commits itself, --jobs at a time. In an AWS Batch array job, each child runs the "
        "date at its index from --from.",
    )
    backfill.add_argument("--from", dest="first", required=True, help="first date, YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", required=True, help="last date, YYYY-MM-DD")
    backfill.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="dates run at once, each in its own process (default: 1)",
    )
    _input_options(backfill)
    _output_option(backfill)
    backfill.set_defaults(handler=command_backfill)

    training = commands.add_parser(
        "train", help="fit the model to a dataset and write its artifact (train.py)"
    )
    train.add_arguments(training)
    training.set_defaults(handler=train.run)
    return result


def _input_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--input",
        default=os.environ.get("INPUT_URI") or None,
        help="CSV (a name ending in .csv, with a header row) or Parquet: a file or a folder, "
        "a path or a URI such as s3://bucket/input/{run_date}/ ({run_date} becomes the run "
        "date); default: INPUT_URI, else a built-in sample",
    )
    command.add_argument(
        "--model",
        help="the model artifact, a path or URI (default: MODEL_URI, else the packaged one)",
    )
    command.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"rows read, scored and written at a time; memory follows it (default: {BATCH_SIZE})",
    )
    _reject_option(command)


def _output_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--output",
        default=os.environ.get("OUTPUT_URI") or None,
        help="root of the results: a folder or a URI such as s3://bucket/scores; a run writes "
        "run_date=YYYY-MM-DD there (default: OUTPUT_URI, else print the summary only)",
    )
    command.add_argument(
        "--glue-database",
        default=os.environ.get("GLUE_DATABASE") or None,
        help="Glue database whose tables' partitions a commit points at the run "
        "(default: GLUE_DATABASE, else none)",
    )


def _reject_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--max-reject-fraction",
        type=float,
        default=MAX_REJECT_FRACTION,
        help="fail the run, committing nothing, when more of its input rows than this are "
        f"rejected (default: {MAX_REJECT_FRACTION})",
    )


def command_run(args: argparse.Namespace) -> int:
    """``run``: score this process's shard; commit it when it is the only one."""
    run_date = _date("--run-date", args.run_date)
    output = _location("--output", args.output)
    source = _location("--input", _dated(args.input, run_date))
    _check_options(args)
    shard = shard_of(args.shard, args.run_id, os.environ)
    if shard.count > 1 and output is None:
        msg = "several shards need --output, where the commit finds their results"
        raise DatasetError(msg)
    model = load_model(args.model)
    work = Work(shard, run_date, model, output, args.batch_size)
    outcome = run_shard(
        work,
        _sample if source is None else plan(source, shard.count),
        keep_scores=False,
    )
    report = outcome.report
    committed = False
    if output is not None and shard.count == 1:
        commit(output, run_date, shard.run_id, args.max_reject_fraction, _pointer(args, output))
        committed = True
    elif output is None and report.rows_rejected > args.max_reject_fraction * report.rows_read:
        msg = (
            f"rejected {report.rows_rejected} of {report.rows_read} rows, more than "
            f"--max-reject-fraction {args.max_reject_fraction:g}: {report.rejects_by_reason}"
        )
        raise DatasetError(msg)
    summary: dict[str, Any] = {
        "run_id": shard.run_id,
        "run_date": run_date.isoformat(),
        "shard": str(shard),
        "rows": report.rows_scored,
        "rejected": report.rows_rejected,
        "mean_score": outcome.score_sum / report.rows_scored if report.rows_scored else None,
        "model_version": model.version,
        "output": partition_of(output, run_date).uri if output is not None else None,
        "committed": committed,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def command_commit(args: argparse.Namespace) -> int:
    """``commit``: make a finished run the committed run of its date."""
    run_date = _date("--run-date", args.run_date)
    output = _location("--output", args.output)
    if output is None:
        msg = "commit needs --output (or OUTPUT_URI): the root the shards wrote to"
        raise DatasetError(msg)
    _check_options(args)
    done = commit(output, run_date, args.run_id, args.max_reject_fraction, _pointer(args, output))
    manifest = done.manifest
    summary = {
        "run_id": manifest["run_id"],
        "run_date": manifest["run_date"],
        "shards": len(manifest["shards"]),
        "rows": manifest["rows"]["scored"],
        "rejected": manifest["rows"]["rejected"],
        "model_version": manifest["model"]["version"],
        "output": done.location,
        "replaced": manifest["previous_run_id"],
        "deleted_files": len(done.deleted),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def command_backfill(args: argparse.Namespace) -> int:
    """``backfill``: a run of one shard per date, committed date by date."""
    first, last = _date("--from", args.first), _date("--to", args.last)
    if last < first:
        msg = f"--to {last} is before --from {first}"
        raise DatasetError(msg)
    if args.output is None:
        msg = "backfill needs --output (or OUTPUT_URI): where each date's results go"
        raise DatasetError(msg)
    _location("--output", args.output)
    _check_options(args)
    dates = [first + dt.timedelta(days=day) for day in range((last - first).days + 1)]
    options = ["--output", args.output, "--batch-size", str(args.batch_size)]
    options += ["--max-reject-fraction", str(args.max_reject_fraction)]
    options += ["--input", args.input] if args.input else []
    options += ["--model", args.model] if args.model else []
    options += ["--glue-database", args.glue_database] if args.glue_database else []
    if "AWS_BATCH_JOB_ARRAY_INDEX" in os.environ:  # one child of an array job: one date
        index = int(os.environ["AWS_BATCH_JOB_ARRAY_INDEX"])
        if index >= len(dates):
            msg = f"array index {index} is past the {len(dates)} dates from {first} to {last}"
            raise DatasetError(msg)
        run_id = os.environ.get("AWS_BATCH_JOB_ID", "").replace(":", "-") or None
        words = ["run", "--run-date", dates[index].isoformat(), "--shard", "0/1", *options]
        return main([*words, "--run-id", run_id] if run_id else words)
    if args.jobs < 1:
        msg = f"--jobs {args.jobs}: at least 1"
        raise DatasetError(msg)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(partial(_run_date, options), dates))
    failed = {date: error for date, error in outcomes if error}
    summary = {
        "dates": len(dates),
        "committed": [date for date, error in outcomes if not error],
        "failed": failed,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    if failed:
        listed = "; ".join(f"{date}: {error}" for date, error in failed.items())
        msg = f"{len(failed)} of {len(dates)} dates failed, the others are committed: {listed}"
        raise DatasetError(msg)
    return 0


def _run_date(options: list[str], date: dt.date) -> tuple[str, str]:
    """Run one date in a process of its own; return the date and its error line, if any."""
    command = [sys.executable, "-m", "demo_project", "run", "--run-date", date.isoformat()]
    done = subprocess.run(
        [*command, "--shard", "0/1", *options], capture_output=True, text=True, check=False
    )
    error = done.stderr.strip().splitlines()[-1] if done.returncode else ""
    return date.isoformat(), error.removeprefix(f"{PROG}: error: ") or (
        f"exit code {done.returncode}" if done.returncode else ""
    )


def _sample(n_features: int) -> Iterable[Batch]:
    """The built-in sample as one batch."""
    features = np.asarray(SAMPLE_ROWS, dtype=np.float64)
    if features.shape[1] != n_features:
        msg = (
            f"the built-in sample has {features.shape[1]} features, the model expects {n_features}"
        )
        raise DatasetError(msg)
    rows = np.arange(len(features), dtype=np.int64)
    yield Batch("(built-in sample)", features, rows, None, len(features))


def _pointer(args: argparse.Namespace, output: Location) -> Callable[[dict[str, Any]], None] | None:
    """What else a commit points at the run: the Glue tables' partitions, when a database is given."""
    if not args.glue_database:
        return None
    from demo_project.glue import point_partitions  # noqa: PLC0415 - AWS only when asked

    return partial(point_partitions, args.glue_database, output)


def _date(option: str, text: str | None) -> dt.date:
    """A date option's value; None: today, UTC."""
    if text is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"{option} {text!r}: not a date like 2024-05-31"
        raise DatasetError(msg) from None


def _dated(text: str | None, run_date: dt.date) -> str | None:
    """A location with {run_date} replaced by the run date."""
    return None if text is None else text.replace("{run_date}", run_date.isoformat())


def _location(option: str, text: str | None) -> Location | None:
    """A location option's value, checked (its store reachable); None when not given."""
    if text is None:
        return None
    try:
        where = parse(text)
        resolve(where)
    except LocationError as error:
        msg = f"{option}: {error}"
        raise LocationError(msg) from error
    return where


def _check_options(args: argparse.Namespace) -> None:
    """Numbers the options need in range."""
    fraction = args.max_reject_fraction
    if not 0 <= fraction <= 1:
        msg = f"--max-reject-fraction {fraction:g}: from 0 to 1"
        raise DatasetError(msg)
    if getattr(args, "batch_size", 1) < 1:
        msg = f"--batch-size {args.batch_size}: at least 1"
        raise DatasetError(msg)


if __name__ == "__main__":
    raise SystemExit(main())
