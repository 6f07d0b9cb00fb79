"""Command-line entry point of the pipeline: read rows, score them, write the results.

Run ``demo-project --help``. Without ``--input`` it scores a
built-in sample, so the container runs end to end with no data mounted.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from demo_project.core import DEFAULT_MODEL, standardize

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

SAMPLE_ROWS: list[list[float]] = [[1.0, 2.0, 3.0], [2.0, 0.5, 1.0], [0.0, 1.0, 4.0]]


def read_rows(path: Path) -> list[list[float]]:
    """Read a CSV file with a header and numeric columns."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return [[float(cell) for cell in row] for row in reader if row]


def score(rows: Iterable[Sequence[float]]) -> list[float]:
    """Standardize each row and predict one value for it."""
    return [DEFAULT_MODEL.predict(standardize(row)) for row in rows]


def write_scores(path: Path, scores: Sequence[float]) -> None:
    """Write one score per line under a ``score`` header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["score"])
        writer.writerows([value] for value in scores)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline; return the process exit code."""
    parser = argparse.ArgumentParser(description="Score rows of features with the model.")
    parser.add_argument(
        "--input", type=Path, help="CSV file with a header row (default: a built-in sample)"
    )
    parser.add_argument(
        "--output", type=Path, help="CSV file to write the scores to (default: stdout as JSON)"
    )
    args = parser.parse_args(argv)

    rows = read_rows(args.input) if args.input else SAMPLE_ROWS
    scores = score(rows)
    if args.output:
        write_scores(args.output, scores)
    summary: dict[str, object] = {
        "rows": len(scores),
        "mean_score": sum(scores) / len(scores) if scores else None,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
