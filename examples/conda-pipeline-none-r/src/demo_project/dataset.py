"""The pipeline's results: where a run writes them, and how a run is committed.

The results of a run date form one partition of a dataset under the output root
(``--output``), kept as immutable runs plus one pointer to the committed one::

    <root>/run_date=2024-05-31/_manifest.json                  the committed run (the pointer)
    <root>/run_date=2024-05-31/run=<run id>/scores/part-00000-of-00004.parquet
    <root>/run_date=2024-05-31/run=<run id>/rejects/part-00000-of-00004.parquet
    <root>/run_date=2024-05-31/run=<run id>/shards/00000-of-00004.json

Each shard of a run writes its own files into the run's folder, never over anyone
else's, and its report last. The commit checks that every shard reported, then writes
the partition's manifest in one request (a replaced object, or a renamed file): readers
see the previous run or the new one, whole, never a mixture. Only then are earlier runs
of the partition deleted. The manifest names the run's files, its row counts per shard,
its rejects, its input files, the model and the code that made it.

Read committed results with `read_committed`, not by listing the root: the root also holds
runs in progress and runs that failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs

from demo_project.locations import Location, LocationError, one_line, read_bytes, resolve
from demo_project.locations import write_bytes as write_small_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

PARTITION = "run_date"
RUN = "run"
MANIFEST = "_manifest.json"
REPORTS = "shards"
RESULTS = "scores"
REJECTS = "rejects"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _schema(columns: list[tuple[str, Any, str]]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, type_, nullable=False, metadata={"comment": comment})
            for name, type_, comment in columns
        ]
    )


SCHEMA = _schema(
    [
        ("source_file", pa.string(), "the input file the row came from"),
        ("source_row", pa.int64(), "position of the row among the file's data rows, from 0"),
        ("score", pa.float64(), "the model's prediction for the row"),
        ("model_version", pa.string(), "version of the model artifact that scored the row"),
    ]
)
REJECTS_SCHEMA = _schema(
    [
        ("source_file", pa.string(), "the input file the row came from"),
        ("source_row", pa.int64(), "position of the row among the file's data rows, from 0"),
        ("reason", pa.string(), "why the row was not scored"),
        ("content", pa.string(), "the row as read, its cells joined by commas"),
    ]
)
SCHEMAS = {RESULTS: SCHEMA, REJECTS: REJECTS_SCHEMA}


def _encoded_schema(schema: pa.Schema, index: pa.DataType) -> pa.Schema:
    return pa.schema(
        [
            field.with_type(pa.dictionary(index, field.type))
            if pa.types.is_string(field.type)
            else field
            for field in schema
        ]
    )


# How the files are written: string columns as dictionaries. Parquet stores them
# dictionary-encoded either way, and readers see strings; handed the dictionary, the
# writer need not build it by hashing every value (a shard repeats its file's name and
# the model's version on every row). A batch of results holds one value of each, which
# one byte per row indexes (`repeated`); a batch of rejects holds as many contents as rows.
ONE_VALUE_INDEX = pa.int8()
WRITTEN = {
    RESULTS: _encoded_schema(SCHEMA, ONE_VALUE_INDEX),
    REJECTS: _encoded_schema(REJECTS_SCHEMA, pa.int32()),
}


def repeated(value: str, count: int) -> pa.DictionaryArray:
    """`value` on `count` rows, as a string column the writer takes without encoding it."""
    return pa.DictionaryArray.from_arrays(
        pa.repeat(pa.scalar(0, ONE_VALUE_INDEX), count), pa.array([value], pa.string())
    )


class DatasetError(ValueError):
    """Input or results cannot be read or written, or a run cannot be committed."""


def code_version() -> str:
    """The installed package's version, recorded in every manifest."""
    try:
        return version("demo-project")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def partition_of(root: Location, run_date: dt.date) -> Location:
    """The folder of a run date's partition."""
    return root.join(f"{PARTITION}={run_date.isoformat()}")


def run_folder(root: Location, run_date: dt.date, run_id: str) -> Location:
    """The folder of one run of a partition."""
    return partition_of(root, run_date).join(f"{RUN}={run_id}")


def shard_name(index: int, count: int) -> str:
    """How a shard's files are named: 00003-of-00004."""
    return f"{index:05d}-of-{count:05d}"


def check_run_id(run_id: str) -> str:
    """A run id becomes a folder name: letters, digits, '.', '_' and '-' only."""
    if not RUN_ID.match(run_id):
        msg = f"run id {run_id!r}: use letters, digits, '.', '_' and '-' (at most 128)"
        raise DatasetError(msg)
    return run_id


@dataclass
class ShardReport:
    """What one shard did: written as JSON after its files, so it exists only if they do."""

    run_id: str
    run_date: str
    shard: int
    shards: int
    input: str
    plan: str
    parts: list[str]
    total_parts: int
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)
    input_files: list[str] = field(default_factory=list)
    model: dict[str, str] = field(default_factory=dict)
    code_version: str = field(default_factory=code_version)


class ShardWriter:
    """Writes one shard's results and rejects as Parquet, batch by batch, then its report.

    The rejects file exists only when there are rejects. Nothing of a shard counts until
    its report is written (`close`); a shard that dies leaves files no manifest names.
    """

    def __init__(self, root: Location, report: ShardReport) -> None:
        self.root = root
        self.report = report
        self.folder = run_folder(root, dt.date.fromisoformat(report.run_date), report.run_id)
        self.name = shard_name(report.shard, report.shards)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._streams: list[Any] = []

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        """Append a batch to the shard's file of `table` (RESULTS or REJECTS)."""
        if batch.num_rows == 0 and table in self._writers:
            return
        try:
            self._writer(table).write_batch(batch.cast(WRITTEN[table]))
        except (OSError, pa.ArrowException) as error:
            msg = f"cannot write {self.folder.join(table)}: {one_line(error)}"
            raise DatasetError(msg) from error

    def _writer(self, table: str) -> pq.ParquetWriter:
        if table not in self._writers:
            where = self.folder.join(table, f"part-{self.name}.parquet")
            filesystem, path = resolve(where)
            if where.is_local:
                filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
            stream = filesystem.open_output_stream(path)
            self._streams.append(stream)
            schema = WRITTEN[table]
            # Dictionaries pay off for the repeated strings; for numbers, whose values
            # rarely repeat, the writer would build one per row group, then drop it. The
            # files carry the Parquet schema only, so that readers see strings.
            strings = [field.name for field in schema if pa.types.is_dictionary(field.type)]
            self._writers[table] = pq.ParquetWriter(
                stream, schema, use_dictionary=strings, store_schema=False
            )
            self.report.files[table] = where.path.removeprefix(self.root.path.rstrip("/") + "/")
        return self._writers[table]

    def close(self) -> None:
        """Finish the Parquet files, then write the report: the shard is done."""
        try:
            self._writer(RESULTS)  # every shard has a results file, if empty
            self.report.files.setdefault(REJECTS, None)
            for writer in self._writers.values():
                writer.close()
            for stream in self._streams:
                stream.close()
            report = self.folder.join(REPORTS, f"{self.name}.json")
            write_small_file(report, json.dumps(asdict(self.report), indent=1).encode())
        except (OSError, pa.ArrowException, LocationError) as error:
            msg = f"cannot write shard {self.name} in {self.folder}: {one_line(error)}"
            raise DatasetError(msg) from error

    def abort(self) -> None:
        """Close what is open, writing no report: the shard failed, and its files count for
        nothing (a later commit of the date deletes them)."""
        for closing in [*self._writers.values(), *self._streams]:
            with contextlib.suppress(OSError, pa.ArrowException):
                closing.close()


@dataclass
class Committed:
    """What `commit` did: the manifest it wrote and the files of earlier runs it deleted."""

    manifest: dict[str, Any]
    location: str
    deleted: list[str]


def commit(
    root: Location,
    run_date: dt.date,
    run_id: str,
    max_reject_fraction: float,
    point: Callable[[dict[str, Any]], None] | None = None,
) -> Committed:
    """Make run `run_id` the committed run of its partition, if all of its shards finished.

    Refuses (`DatasetError`, nothing changed) when a shard's report is missing, when
    shards disagree about the input or the model, when the input had no rows, or when
    more than `max_reject_fraction` of the input rows were rejected. Then writes the
    manifest, calls `point(manifest)` to move other pointers (a catalog's partitions),
    and only then deletes the partition's other runs. It costs a listing and one small
    read per shard and one write: nothing grows with the size of the data. Committing the
    same run again is harmless, so a commit that failed halfway can simply be retried.
    """
    partition = partition_of(root, run_date)
    folder = run_folder(root, run_date, run_id)
    reports = _reports(folder)
    _check_reports(reports, folder, run_id, run_date)
    read = sum(report.rows_read for report in reports)
    rejected = sum(report.rows_rejected for report in reports)
    if not read:
        msg = f"run {run_id}: the input has no rows; nothing committed"
        raise DatasetError(msg)
    if rejected / read > max_reject_fraction:
        reasons = _reasons(reports)
        common = max(reasons, key=lambda reason: reasons[reason])
        msg = (
            f"run {run_id} rejected {rejected} of {read} rows ({rejected / read:.1%}), more "
            f"than --max-reject-fraction {max_reject_fraction:g}; most often: {common}; "
            f"nothing committed; the rejects are in {folder.join(REJECTS)}"
        )
        raise DatasetError(msg)
    previous = _manifest(partition)
    manifest = _manifest_of(reports, root, max_reject_fraction, previous)
    try:
        write_small_file(partition.join(MANIFEST), json.dumps(manifest, indent=1).encode())
    except LocationError as error:
        raise DatasetError(str(error)) from error
    if point is not None:
        point(manifest)
    return Committed(manifest, partition.uri, _delete_superseded(partition, folder))


def _delete_superseded(partition: Location, keep: Location) -> list[str]:
    """Delete everything in a partition but the run `keep` and the manifest; return the
    files deleted.

    Runs after the pointers have moved: earlier runs, failed runs and files of an older
    layout go. A run of the same date that is still writing loses its files, and its own
    commit then refuses: the last commit wins.
    """
    filesystem, path = resolve(partition)
    kept = resolve(keep)[1]
    deleted = []
    try:
        for info in filesystem.get_file_info(fs.FileSelector(path)):
            if info.path in {kept, f"{path}/{MANIFEST}"}:
                continue
            if info.type == fs.FileType.Directory:
                inside = filesystem.get_file_info(fs.FileSelector(info.path, recursive=True))
                deleted += [found.path for found in inside if found.type == fs.FileType.File]
                filesystem.delete_dir(info.path)  # on object stores, one request per 1,000
            else:
                filesystem.delete_file(info.path)
                deleted.append(info.path)
    except (OSError, pa.ArrowException) as error:
        msg = f"committed, but could not delete earlier runs in {partition}: {one_line(error)}"
        raise DatasetError(msg) from error
    return deleted


def _reasons(reports: Iterable[ShardReport]) -> dict[str, int]:
    """Rejected rows per reason, over all shards."""
    reasons: dict[str, int] = {}
    for report in reports:
        for reason, count in report.rejects_by_reason.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return dict(sorted(reasons.items()))


def read_manifest(root: Location, run_date: dt.date) -> dict[str, Any] | None:
    """The manifest of a run date's committed run, or None before the first commit."""
    return _manifest(partition_of(root, run_date))


def read_committed(root: Location, run_date: dt.date, table: str = RESULTS) -> pa.Table:
    """The committed rows of a run date (RESULTS or REJECTS), as one table.

    Raises `DatasetError` when the date has no committed run.
    """
    manifest = read_manifest(root, run_date)
    if manifest is None:
        msg = f"{partition_of(root, run_date)}: no committed run"
        raise DatasetError(msg)
    files = [root.join(name) for name in manifest["files"][table]]
    if not files:
        return SCHEMAS[table].empty_table()
    filesystem, _ = resolve(root)
    paths = [resolve(where)[1] for where in files]
    try:
        found = ds.dataset(paths, filesystem=filesystem, format="parquet", schema=SCHEMAS[table])
        return found.to_table()
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot read the committed run of {partition_of(root, run_date)}: {one_line(error)}"
        raise DatasetError(msg) from error


def _manifest(partition: Location) -> dict[str, Any] | None:
    location = partition.join(MANIFEST)
    try:
        filesystem, path = resolve(location)
        if filesystem.get_file_info(path).type == fs.FileType.NotFound:
            return None
        manifest: dict[str, Any] = json.loads(read_bytes(location))
    except (OSError, pa.ArrowException, ValueError) as error:
        msg = f"cannot read {location}: {one_line(error)}"
        raise DatasetError(msg) from error
    return manifest


def _reports(folder: Location) -> list[ShardReport]:
    filesystem, path = resolve(folder.join(REPORTS))
    try:
        infos = filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True))
        names = sorted(info.base_name for info in infos if info.base_name.endswith(".json"))
        return [ShardReport(**json.loads(read_bytes(folder.join(REPORTS, name)))) for name in names]
    except (OSError, pa.ArrowException, ValueError, TypeError) as error:
        msg = f"cannot read the shard reports under {folder}: {one_line(error)}"
        raise DatasetError(msg) from error


def _check_reports(
    reports: list[ShardReport], folder: Location, run_id: str, run_date: dt.date
) -> None:
    if not reports:
        msg = f"run {run_id}: no shard has finished ({folder} has no reports); nothing committed"
        raise DatasetError(msg)
    count = reports[0].shards
    missing = sorted(set(range(count)) - {report.shard for report in reports})
    if missing:
        msg = (
            f"run {run_id}: shard(s) {', '.join(map(str, missing))} of {count} did not "
            "finish (failed or still running); nothing committed"
        )
        raise DatasetError(msg)
    for report in reports:
        if report.shards != count or report.run_date != run_date.isoformat():
            msg = f"run {run_id}: shard {report.shard} reports another run ({report.shards} shards, {report.run_date})"
            raise DatasetError(msg)
    seen: dict[str, set[str | None]] = {
        "input": {report.plan for report in reports},
        "model": {report.model.get("checksum") for report in reports},
    }
    for name, values in seen.items():
        if len(values) > 1:
            msg = (
                f"run {run_id}: the shards saw different {name} (changed during the run?); "
                "nothing committed: run it again"
            )
            raise DatasetError(msg)
    parts = [part for report in reports for part in report.parts]
    if len(parts) != len(set(parts)) or len(parts) != reports[0].total_parts:
        msg = f"run {run_id}: the shards did not split the input into its {reports[0].total_parts} parts"
        raise DatasetError(msg)


def _manifest_of(
    reports: Iterable[ShardReport],
    root: Location,
    max_reject_fraction: float,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The manifest of a run whose shard reports agree (`_check_reports`)."""
    reports = sorted(reports, key=lambda report: report.shard)
    run_id, run_date = reports[0].run_id, reports[0].run_date
    return {
        "run_id": run_id,
        "run_date": run_date,
        "folder": f"{PARTITION}={run_date}/{RUN}={run_id}",
        "committed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "previous_run_id": previous["run_id"] if previous else None,
        "root": root.uri,
        "code_version": reports[0].code_version,
        "model": reports[0].model,
        "input": {
            "location": reports[0].input,
            "plan": reports[0].plan,
            "files": sorted({name for report in reports for name in report.input_files}),
        },
        "rows": {
            "read": sum(report.rows_read for report in reports),
            "scored": sum(report.rows_scored for report in reports),
            "rejected": sum(report.rows_rejected for report in reports),
        },
        "rejects_by_reason": _reasons(reports),
        "max_reject_fraction": max_reject_fraction,
        "shards": [
            {
                "shard": report.shard,
                "rows_read": report.rows_read,
                "rows_scored": report.rows_scored,
                "rows_rejected": report.rows_rejected,
                "parts": report.parts,
            }
            for report in reports
        ],
        "files": {
            table: [report.files[table] for report in reports if report.files.get(table)]
            for table in (RESULTS, REJECTS)
        },
    }
