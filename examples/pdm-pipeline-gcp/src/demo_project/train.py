"""Train the model: fit it to a dataset and write its artifact.

``demo-project train --data rows.csv --target y --output model.json`` reads a CSV (a name
ending in .csv, with a header row) or Parquet file or directory, at a path or a URI such
as ``s3://bucket/training/rows.parquet``. The target column is what the model learns to
predict; every other column is a feature. A held-out share of the rows, chosen with a
fixed seed, measures the fitted model; the artifact (see model.py) records the result:
the weights, the standardization, the version, when and from what data it was trained,
its metrics and the code's git revision.

This is the starting point for your own training code: replace `fit` and keep the rest.
Bad data (no target column, too few rows, a column that is not numeric, empty cells,
NaN or infinity) ends the command with one line on stderr and exit code 1, and nothing
is written: the artifact is complete and checked before it is stored, and it replaces an
earlier one whole (locations.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds

from demo_project import __version__, locations
from demo_project.model import FORMAT, FORMAT_VERSION, Model, parse_artifact

if TYPE_CHECKING:
    import argparse

PROG = "demo-project train"
MIN_ROWS = 10


class TrainingError(ValueError):
    """The training data cannot be read or is not what training needs (one line)."""


@dataclass(frozen=True)
class Dataset:
    """Training data: features, one row per example, and the target of each row."""

    location: str
    names: tuple[str, ...]
    features: npt.NDArray[np.float64]
    target: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fit:
    """A fitted linear model over standardized features."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    bias: float

    def predict(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """One prediction per row, as model.py's `Model.predict` computes it."""
        result: npt.NDArray[np.float64] = (
            (features - self.mean) / self.scale
        ) @ self.weights + self.bias
        return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the train command's options to `parser`."""
    parser.add_argument(
        "--data",
        required=True,
        help="training data: CSV (a name ending in .csv, with a header row) or Parquet, "
        "a file or directory, a path or a URI such as s3://bucket/training/rows.parquet",
    )
    parser.add_argument(
        "--target",
        default="target",
        help="the column to predict; every other column is a feature (default: target)",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="where to write the artifact: a path or a URI such as s3://bucket/models/model.json",
    )
    parser.add_argument(
        "--model-version",
        help="the version recorded in the artifact (default: the UTC time, e.g. 20240531T120000Z)",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="the share of rows held out to measure the model (default: 0.2)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the held-out split, so a rerun on the same data gives the same model "
        "(default: 0)",
    )


def run(args: argparse.Namespace) -> int:
    """Train from `args` (see `add_arguments`), write the artifact; return the exit code."""
    try:
        if not 0 < args.holdout < 1:
            msg = f"--holdout must be between 0 and 1, got {args.holdout}"
            raise TrainingError(msg)
        data = read_dataset(args.data, args.target)
        now = dt.datetime.now(dt.UTC)
        artifact = train(
            data,
            version=args.model_version or now.strftime("%Y%m%dT%H%M%SZ"),
            created=now,
            holdout=args.holdout,
            seed=args.seed,
        )
        written = write_artifact(artifact, args.output)
    except ValueError as error:  # TrainingError, ModelError
        sys.stderr.write(f"{PROG}: error: {error}\n")
        return 1
    summary = {
        "output": written.uri,
        "version": written.version,
        "checksum": written.checksum,
        "metrics": artifact["training"]["metrics"],
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def read_dataset(location: str, target: str) -> Dataset:
    """The features and target of a CSV or Parquet dataset, checked column by column."""
    file_format = "csv" if location.lower().endswith(".csv") else "parquet"
    try:
        filesystem, path = locations.resolve(location)
        table = ds.dataset(path, filesystem=filesystem, format=file_format).to_table()
    except locations.LocationError as error:
        raise TrainingError(str(error)) from error
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot read {location}: {locations.one_line(error)}"
        raise TrainingError(msg) from error
    if target not in table.column_names:
        msg = f"{location}: no target column {target!r} (columns: {', '.join(table.column_names)})"
        raise TrainingError(msg)
    names = tuple(name for name in table.column_names if name != target)
    if not names:
        msg = f"{location}: no feature columns besides the target {target!r}"
        raise TrainingError(msg)
    if table.num_rows < MIN_ROWS:
        msg = f"{location}: {table.num_rows} rows; training needs at least {MIN_ROWS}"
        raise TrainingError(msg)
    columns = {name: _column(location, name, table.column(name)) for name in table.column_names}
    return Dataset(
        location=location,
        names=names,
        features=np.column_stack([columns[name] for name in names]),
        target=columns[target],
    )


def train(
    data: Dataset, version: str, created: dt.datetime, holdout: float = 0.2, seed: int = 0
) -> dict[str, Any]:
    """Fit on the training rows, measure on the held-out ones; the artifact as a dict."""
    rows = len(data.target)
    order = np.random.default_rng(seed).permutation(rows)
    held_out = max(1, round(rows * holdout))
    test, fitted_on = order[:held_out], order[held_out:]
    if len(fitted_on) <= len(data.names):
        msg = (
            f"{data.location}: {len(fitted_on)} training rows for {len(data.names)} features; "
            "add rows or lower --holdout"
        )
        raise TrainingError(msg)
    model = fit(data.features[fitted_on], data.target[fitted_on])
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "created": created.isoformat(timespec="seconds"),
        "features": list(data.names),
        "standardization": {"mean": model.mean.tolist(), "scale": model.scale.tolist()},
        "weights": model.weights.tolist(),
        "bias": model.bias,
        "training": {
            "data": data.location,
            "rows": rows,
            "holdout": {"share": holdout, "seed": seed, "rows": held_out},
            "metrics": metrics(model.predict(data.features[test]), data.target[test]),
            "git_revision": git_revision(),
            "code_version": __version__,
        },
    }


def fit(features: npt.NDArray[np.float64], target: npt.NDArray[np.float64]) -> Fit:
    """Least squares on standardized features (a constant feature gets weight 0)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.column_stack([(features - mean) / scale, np.ones(len(features))])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return Fit(mean=mean, scale=scale, weights=solution[:-1], bias=float(solution[-1]))


def metrics(predicted: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Root mean squared error, mean absolute error and R² (None for a constant target)."""
    errors = predicted - actual
    spread = float(((actual - actual.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt((errors**2).mean())),
        "mae": float(np.abs(errors).mean()),
        "r2": 1 - float((errors**2).sum()) / spread if spread > 0 else None,
    }


def git_revision() -> str | None:
    """The code's git commit: GITHUB_SHA in GitHub Actions, else the checkout's HEAD."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:  # no git here
        return None
    except subprocess.TimeoutExpired:
        return None
    revision = result.stdout.strip()
    return revision if result.returncode == 0 and revision else None


def write_artifact(artifact: dict[str, Any], location: str) -> Model:
    """Store the artifact at `location` whole or not at all; return it as loaded."""
    data = (json.dumps(artifact, indent=2, allow_nan=False) + "\n").encode()
    model = parse_artifact(data, location)  # what serving will read, checked before it is stored
    try:
        locations.write_bytes(location, data)  # whole or not at all
    except locations.LocationError as error:
        raise TrainingError(str(error)) from error
    return model


def _column(location: str, name: str, column: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A numeric column as floats, or a TrainingError naming what is wrong with it."""
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        msg = f"{location}: column {name!r} holds {column.type}, not numbers"
        raise TrainingError(msg)
    if column.null_count:
        msg = f"{location}: column {name!r} has {column.null_count} missing values (empty, NA, NaN)"
        raise TrainingError(msg)
    values: npt.NDArray[np.float64] = column.to_numpy().astype(np.float64)
    bad = int((~np.isfinite(values)).sum())
    if bad:
        msg = f"{location}: column {name!r} has {bad} value(s) that are NaN or infinite"
        raise TrainingError(msg)
    return values
