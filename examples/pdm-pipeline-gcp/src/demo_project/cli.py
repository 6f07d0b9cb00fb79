"""Command-line entry point of the pipeline: read rows, score them, write the results.

Run ``demo-project --help``. Without ``--input`` it scores a
built-in sample, and without ``--output`` it only prints a summary, so the container
runs end to end with no data mounted. Errors end the run with one line on stderr and
exit code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

from demo_project import __version__
from demo_project.core import DEFAULT_MODEL, standardize

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

SAMPLE_ROWS: list[list[float]] = [[1.0, 2.0, 3.0], [2.0, 0.5, 1.0], [0.0, 1.0, 4.0]]


def load_rows(location: str | None) -> list[list[float]]:
    """The rows to score: the built-in sample without a location."""
    if location is None:
        return SAMPLE_ROWS
    # pyarrow loads only when there is data to read or write, not for the sample or --help.
    from demo_project.dataset import read_features  # noqa: PLC0415

    return read_features(location)


def save_scores(scores: Sequence[float], location: str | None, date: dt.date) -> str | None:
    """Write the scores as the run date's partition under `location`; return where."""
    if location is None:
        return None
    from demo_project.dataset import scores_table, write_partition  # noqa: PLC0415

    return write_partition(scores_table(scores, __version__), location, date)


def score(rows: Iterable[Sequence[float]]) -> list[float]:
    """Standardize each row and predict one value for it."""
    return [DEFAULT_MODEL.predict(standardize(row)) for row in rows]


def run_date(text: str) -> dt.date:
    """A --run-date value: an ISO 8601 date."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"not a date like 2024-05-31: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def parser() -> argparse.ArgumentParser:
    """The command line's options."""
    result = argparse.ArgumentParser(
        prog="demo-project",
        description="Score rows of features with the model; write the scores as Parquet.",
    )
    result.add_argument(
        "--input",
        help="CSV (a name ending in .csv, with a header row) or Parquet file or directory: "
        "a path or a URI such as s3://bucket/input/rows.csv (default: a built-in sample)",
    )
    result.add_argument(
        "--output",
        help="root of the results dataset: a directory or a URI such as s3://bucket/scores; "
        "the run writes its partition, run_date=YYYY-MM-DD, there and replaces an earlier "
        "one (default: print the summary only)",
    )
    result.add_argument(
        "--run-date",
        type=run_date,
        default=dt.datetime.now(dt.UTC).date(),
        help="the partition to write, YYYY-MM-DD (default: today, UTC)",
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline; return the process exit code."""
    command = parser()
    args = command.parse_args(argv)
    try:
        scores = score(load_rows(args.input))
        written = save_scores(scores, args.output, args.run_date)
    except ValueError as error:  # bad input or location (DatasetError), wrong feature count
        sys.stderr.write(f"{command.prog}: error: {error}\n")
        return 1
    summary: dict[str, object] = {
        "rows": len(scores),
        "mean_score": sum(scores) / len(scores) if scores else None,
        "run_date": args.run_date.isoformat(),
        "output": written,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
