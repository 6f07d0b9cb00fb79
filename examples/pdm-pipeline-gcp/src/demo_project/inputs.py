"""The pipeline's input: the files under a location, split between shards, read as
checked batches of features.

Input is CSV (a name ending in ``.csv``, with a header row) or Parquet: one file, or a
folder (a prefix on object stores) of them, whose names starting with ``_`` or ``.`` are
skipped. Every column is a feature, in order. `plan` lists the files once and cuts the work
into parts: whole files, and the row groups of Parquet files too large for one shard's
share (their row counts come from the file's footer; no data is read). `Plan.shard`
deals the parts to shards, largest first, each to the shard with the least work so far:
every shard computes the same deal from the same listing, so every part, and every row,
is read by exactly one shard.

`read` streams a shard's parts as batches of at most ``batch_size`` rows. Rows that
cannot be scored (the wrong number of cells, a missing value, text that is not a number,
an infinite or NaN value) leave the batch as rejects, with the reason and their position
in their file. All of it is array work over whole batches; no Python runs per row.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from pyarrow import fs

from demo_project.dataset import REJECTS_SCHEMA, DatasetError
from demo_project.locations import Location, one_line, resolve

if TYPE_CHECKING:
    from collections.abc import Iterator

# A number as text: what Arrow's cast to float64 accepts (RE2 syntax, case-insensitive).
NUMBER = r"(?i)^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$"
# CSV lines are read whole (one column), then cut at commas: a row with the wrong number
# of cells becomes a reject at its own position instead of stopping the read. The
# "delimiter" below is a control character that never occurs in CSV text.
LINE_DELIMITER = "\x1f"
NO_REASON = pa.scalar(None, pa.string())

Features = np.ndarray[Any, np.dtype[np.float64]]
Rows = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class InputFile:
    """One input file as listed: its location, format, size in bytes and change time."""

    location: Location
    format: str
    size: int
    mtime: str


@dataclass(frozen=True)
class Part:
    """A part of the work: a whole file, or one row group of a Parquet file."""

    file: InputFile
    row_group: int | None
    weight: int

    @property
    def key(self) -> str:
        """The part's name in shard reports: the file, and its row group if any."""
        suffix = "" if self.row_group is None else f"#row_group={self.row_group}"
        return f"{self.file.location}{suffix}"


@dataclass(frozen=True)
class Plan:
    """The input of a run cut into parts; `fingerprint` identifies the listing it came from."""

    location: str
    files: list[InputFile]
    parts: list[Part]
    fingerprint: str

    def shard(self, index: int, count: int) -> list[Part]:
        """The parts of shard `index` of `count`, in the order of the input."""
        loads = [(0, shard) for shard in range(count)]
        mine = []
        for part in sorted(self.parts, key=lambda part: (-part.weight, part.key)):
            load, shard = heapq.heappop(loads)
            heapq.heappush(loads, (load + part.weight, shard))
            if shard == index:
                mine.append(part)
        order = {part.key: position for position, part in enumerate(self.parts)}
        return sorted(mine, key=lambda part: order[part.key])


@dataclass(frozen=True)
class Cells:
    """A batch's columns as read, their names for messages, and the rows' text if known."""

    columns: list[Any]
    names: list[str]
    text: Any = None


@dataclass
class Batch:
    """Rows of one input file: the features of those that can be scored, and the rejects."""

    source_file: str
    features: Features
    source_rows: Rows
    rejects: pa.RecordBatch | None
    rows_read: int


def plan(location: Location, shards: int) -> Plan:
    """List the input and cut it into parts for `shards` shards (reads Parquet footers only
    for files too large for one shard's share)."""
    files = _list(location)
    total = sum(file.size for file in files)
    parts: list[Part] = []
    split: list[Any] = []
    for file in files:
        if shards > 1 and file.format == "parquet" and file.size * 2 * shards > total:
            rows = _row_groups(file)
            split.append([str(file.location), rows])
            whole = max(sum(rows), 1)
            parts += [Part(file, i, file.size * n // whole) for i, n in enumerate(rows)]
        else:
            parts.append(Part(file, None, file.size))
    listing = [[str(file.location), file.size, file.mtime] for file in files]
    digest = hashlib.sha256(json.dumps([listing, split]).encode()).hexdigest()
    return Plan(str(location), files, parts, f"sha256:{digest}")


def read(part: Part, n_features: int, batch_size: int) -> Iterator[Batch]:
    """The batches of one part, checked: features to score, and rejects."""
    where = part.file.location
    try:
        filesystem, path = resolve(where)
        if part.file.size == 0:  # not even a header: no rows
            return
        if part.file.format == "csv":
            yield from _read_csv(filesystem, path, str(where), n_features, batch_size)
        else:
            yield from _read_parquet(filesystem, path, part, n_features, batch_size)
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot read {where}: {one_line(error)}"
        raise DatasetError(msg) from error


def _list(location: Location) -> list[InputFile]:
    """The input files at a location, sorted; a missing or empty location is an error."""
    try:
        filesystem, path = resolve(location)
        info = filesystem.get_file_info(path)
        if info.type == fs.FileType.NotFound:
            msg = f"cannot read {location}: no such file or directory"
            raise DatasetError(msg)
        if info.type == fs.FileType.File:
            found = [(location, info)]
        else:
            infos = filesystem.get_file_info(fs.FileSelector(path, recursive=True))
            base = path.rstrip("/") + "/"
            found = [
                (location.join(info.path.removeprefix(base)), info)
                for info in sorted(infos, key=lambda info: info.path)
                if info.type == fs.FileType.File
                and not any(
                    name.startswith(("_", ".")) for name in info.path.removeprefix(base).split("/")
                )
            ]
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot read {location}: {one_line(error)}"
        raise DatasetError(msg) from error
    files = [
        InputFile(
            where,
            "csv" if info.path.lower().endswith(".csv") else "parquet",
            info.size or 0,
            info.mtime.isoformat() if info.mtime is not None else "",
        )
        for where, info in found
    ]
    if not files:
        msg = f"{location}: no input files (CSV or Parquet) found there"
        raise DatasetError(msg)
    return files


def _row_groups(file: InputFile) -> list[int]:
    """The row counts of a Parquet file's row groups, from its footer."""
    try:
        filesystem, path = resolve(file.location)
        metadata = pq.read_metadata(path, filesystem=filesystem)
    except (OSError, pa.ArrowException) as error:
        msg = f"cannot read {file.location}: {one_line(error)}"
        raise DatasetError(msg) from error
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def _read_parquet(
    filesystem: fs.FileSystem, path: str, part: Part, n_features: int, batch_size: int
) -> Iterator[Batch]:
    source = str(part.file.location)
    with pq.ParquetFile(path, filesystem=filesystem, pre_buffer=True) as parquet:
        metadata = parquet.metadata
        sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        starts = np.cumsum([0, *sizes])
        groups = range(len(sizes)) if part.row_group is None else [part.row_group]
        for group in groups:
            offset = int(starts[group])
            for batch in parquet.iter_batches(batch_size=batch_size, row_groups=[group]):
                rows = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
                offset += batch.num_rows
                names = [f"column {name!r}" for name in batch.schema.names]
                yield _checked(source, rows, Cells(batch.columns, names), n_features, None)


def _read_csv(
    filesystem: fs.FileSystem, path: str, source: str, n_features: int, batch_size: int
) -> Iterator[Batch]:
    # The lines of the file, each as one string: Arrow finds the line ends (in parallel).
    reader = pcsv.open_csv(
        filesystem.open_input_stream(path),
        read_options=pcsv.ReadOptions(
            column_names=["line"], block_size=max(1 << 20, batch_size * 16 * n_features)
        ),
        parse_options=pcsv.ParseOptions(
            delimiter=LINE_DELIMITER, quote_char=False, ignore_empty_lines=False
        ),
        convert_options=pcsv.ConvertOptions(
            column_types={"line": pa.string()}, strings_can_be_null=False
        ),
    )
    header: int | None = None
    position = -1  # the header's; data rows count from 0
    for block in reader:
        lines = block.column(0)
        if header is None:
            if len(lines) == 0:
                continue
            header = len(lines[0].as_py().split(","))
            lines = lines.slice(1)
        for start in range(0, len(lines), batch_size):
            chunk = lines.slice(start, batch_size)
            rows = np.arange(position + 1, position + 1 + len(chunk), dtype=np.int64)
            position += len(chunk)
            yield _checked_lines(source, chunk, rows, header, n_features)


def _checked_lines(source: str, lines: pa.Array, rows: Rows, header: int, n_features: int) -> Batch:
    """Cut CSV lines into cells; rows with another number of cells than the header are
    rejects. Blank lines are neither rows nor rejects."""
    blank = pc.equal(lines, "")
    if blank.true_count:
        keep = pc.invert(blank)
        lines, rows = lines.filter(keep), rows[keep.to_numpy(zero_copy_only=False)]
    cells = pc.split_pattern(lines, ",")
    counts = pc.list_value_length(cells)
    ragged = pc.not_equal(counts, header)
    reasons = None
    if ragged.true_count:
        text = pc.binary_join_element_wise(
            "wrong number of features: expected ", str(n_features), ", got ",
            pc.cast(counts, pa.string()), "",
        )  # fmt: skip
        reasons = pc.if_else(ragged, text, NO_REASON)
        cells = pc.if_else(ragged, pa.scalar([""] * header, cells.type), cells)
    columns = [pc.utf8_trim(pc.list_element(cells, column), ' "\t') for column in range(header)]
    names = [f"column {column + 1}" for column in range(header)]
    return _checked(source, rows, Cells(columns, names, lines), n_features, reasons)


def _checked(source: str, rows: Rows, cells: Cells, n_features: int, reasons: Any) -> Batch:
    """Features of the rows as a float64 array, and the rows that cannot be scored.

    `reasons` (a string array, null where a row is fine) carries reasons found before;
    the first reason of a row is the one kept. Rejects keep the rows' text (CSV lines),
    or else their cells joined with commas.
    """
    columns, names, text = cells.columns, cells.names, cells.text
    count = len(rows)
    if len(columns) != n_features:
        wrong = f"wrong number of features: expected {n_features}, got {len(columns)}"
        reasons = _first(reasons, pa.repeat(pa.scalar(wrong), count))
        values = np.zeros((count, n_features))
    else:
        arrays = []
        for name, column in zip(names, columns, strict=True):
            numbers, bad = _numbers(column, name)
            arrays.append(numbers)
            reasons = _first(reasons, bad)
        values = np.column_stack(arrays) if arrays else np.zeros((count, 0))
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            reasons = _first(reasons, pc.if_else(pa.array(finite), NO_REASON, "non-finite value"))
    if reasons is None or reasons.null_count == count:
        return Batch(source, values, rows, None, count)
    good = pc.is_null(reasons).to_numpy(zero_copy_only=False)
    bad = ~good
    if text is None:
        strings = [pc.cast(column, pa.string()) for column in columns]
        text = pc.binary_join_element_wise(*strings, ",", null_handling="replace")
    rejects = pa.RecordBatch.from_arrays(
        [
            pa.repeat(pa.scalar(source), int(bad.sum())),
            pa.array(rows[bad]),
            reasons.filter(pa.array(bad)),
            pc.fill_null(text.filter(pa.array(bad)), ""),
        ],
        schema=REJECTS_SCHEMA,
    )
    return Batch(source, values[good], rows[good], rejects, count)


def _numbers(column: Any, name: str) -> tuple[Features, Any]:
    """A column as float64 (0 where unusable), and per row why it is unusable (or None)."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        bad = None
        if column.null_count:
            bad = pc.if_else(pc.is_null(column), f"missing value in {name}", NO_REASON)
            column = column.fill_null(0)
        numbers = pc.cast(column, pa.float64(), safe=False)
        return numbers.to_numpy(zero_copy_only=False), bad
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if not column.null_count:
            try:  # the common case: every cell is a number
                return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), None
            except pa.ArrowInvalid:
                pass
        column = column.fill_null("")
        usable = pc.match_substring_regex(column, NUMBER)
        why = pc.if_else(
            pc.equal(column, ""), f"missing value in {name}", f"not a number in {name}"
        )
        bad = pc.if_else(usable, NO_REASON, why)
        numbers = pc.cast(pc.if_else(usable, column, "0"), pa.float64())
        return numbers.to_numpy(zero_copy_only=False), bad
    why = f"{name} holds {kind}, not numbers"
    return np.zeros(len(column)), pa.repeat(pa.scalar(why), len(column))


def _first(reasons: Any, more: Any) -> Any:
    """Per row, the reason found first (null: none yet)."""
    if more is None or more.null_count == len(more):
        return reasons
    return more if reasons is None else pc.coalesce(reasons, more)
