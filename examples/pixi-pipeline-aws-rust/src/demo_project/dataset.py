"""The pipeline's input and results: Parquet and CSV on local disks or object stores.

Locations are local paths or URIs of any filesystem pyarrow supports (``s3://``,
``gs://``, ``abfs://``, ``file://``); credentials come from the usual places (for S3:
environment variables, ``~/.aws``, the container's role; ``AWS_ENDPOINT_URL`` too).

The results are a dataset Hive-partitioned by run date: ``<root>/run_date=YYYY-MM-DD/part-0.parquet``,
one file per partition, with the columns of `SCHEMA` (infra/aws.yml's Glue table lists
the same columns; tests/test_glue_table.py checks). A run first writes its file
under ``<root>/_staging/<run id>/`` (readers skip names that start with ``_``) and
reads it back, then swaps it in: a rename on a local disk, a server-side copy onto the
partition's one key on object stores, where a copy replaces an object all at once. A
reader sees the old partition or the new one, never a half-written file, and a rerun for
the same date replaces the partition instead of adding rows to it.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

PARTITION = "run_date"
FILE_NAME = "part-0.parquet"
STAGING = "_staging"

SCHEMA = pa.schema(
    [
        pa.field(
            "row_number",
            pa.int64(),
            nullable=False,
            metadata={"comment": "position of the row in the input, from 0"},
        ),
        pa.field(
            "score",
            pa.float64(),
            nullable=False,
            metadata={"comment": "the model's prediction for the row"},
        ),
        pa.field(
            "model_version",
            pa.string(),
            nullable=False,
            metadata={"comment": "version of the package that scored the row"},
        ),
    ]
)


class DatasetError(ValueError):
    """A location cannot be read or written, or its data is not what the pipeline needs."""


def read_features(location: str) -> list[list[float]]:
    """Rows of numeric features from CSV (a name ending in .csv) or Parquet.

    Every column is a feature. A CSV file has a header row; Parquet may be one file or a
    directory of files.
    """
    file_format = "csv" if location.lower().endswith(".csv") else "parquet"
    try:
        filesystem, path = _resolve(location)
        table = ds.dataset(path, filesystem=filesystem, format=file_format).to_table()
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot read {location}: {_one_line(error)}"
        raise DatasetError(msg) from error
    columns: list[list[float]] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if column.null_count:
            msg = f"{location}: column {field.name!r} has {column.null_count} empty cell(s)"
            raise DatasetError(msg)
        if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
            msg = f"{location}: column {field.name!r} holds {field.type}, not numbers"
            raise DatasetError(msg)
        columns.append([float(value) for value in column.to_pylist()])
    return [list(row) for row in zip(*columns, strict=True)]


def scores_table(scores: Sequence[float], model_version: str) -> pa.Table:
    """The results of one run as a table with the dataset's schema."""
    return pa.table(
        {
            "row_number": list(range(len(scores))),
            "score": list(scores),
            "model_version": [model_version] * len(scores),
        },
        schema=SCHEMA,
    )


def write_partition(table: pa.Table, root: str, run_date: dt.date) -> str:
    """Write `table` as the partition of `run_date` under `root`, replacing it; return its location."""
    partition = f"{PARTITION}={run_date.isoformat()}"
    try:
        filesystem, root_path = _resolve(root)
        root_path = root_path.rstrip("/")
        staging = f"{root_path}/{STAGING}/{uuid.uuid4().hex}"
        target = f"{root_path}/{partition}/{FILE_NAME}"
        local = isinstance(filesystem, fs.LocalFileSystem)
        try:
            if local:
                filesystem.create_dir(staging, recursive=True)
            pq.write_table(table, f"{staging}/{FILE_NAME}", filesystem=filesystem)
            written = pq.read_metadata(f"{staging}/{FILE_NAME}", filesystem=filesystem)
            if written.num_rows != table.num_rows:
                msg = f"wrote {written.num_rows} rows of {table.num_rows}"
                raise DatasetError(msg)
            if local:
                filesystem.create_dir(f"{root_path}/{partition}", recursive=True)
                filesystem.move(f"{staging}/{FILE_NAME}", target)
            else:
                filesystem.copy_file(f"{staging}/{FILE_NAME}", target)
            _delete_others(filesystem, f"{root_path}/{partition}", keep=target)
        finally:
            _delete_quietly(filesystem, staging)
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot write {partition} under {root}: {_one_line(error)}"
        raise DatasetError(msg) from error
    return f"{root.rstrip('/')}/{partition}"


def _resolve(location: str) -> tuple[fs.FileSystem, str]:
    """The filesystem of a path or URI, and the path inside it."""
    if "://" in location:
        filesystem, path = fs.FileSystem.from_uri(location)
        return filesystem, str(path)
    return fs.LocalFileSystem(), Path(location).resolve().as_posix()


def _delete_others(filesystem: fs.FileSystem, directory: str, keep: str) -> None:
    """Remove files other than `keep` from a partition, e.g. from an earlier layout."""
    for info in filesystem.get_file_info(fs.FileSelector(directory)):
        if info.type == fs.FileType.File and info.path != keep:
            filesystem.delete_file(info.path)


def _delete_quietly(filesystem: fs.FileSystem, directory: str) -> None:
    """Remove a staging directory; a leftover is invisible to readers, so errors pass."""
    with contextlib.suppress(OSError, pa.ArrowException):
        filesystem.delete_dir(directory)


def _one_line(error: BaseException) -> str:
    """The error's message on one line (AWS errors span several)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, FileNotFoundError) and "no such file" not in text.lower():
        return f"no such file or directory: {text}"
    return text
