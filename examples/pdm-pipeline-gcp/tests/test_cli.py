"""End-to-end tests of the pipeline's command line and the dataset it writes."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from demo_project import __version__
from demo_project.cli import SAMPLE_ROWS, main, score
from demo_project.dataset import FILE_NAME, PARTITION, SCHEMA, STAGING

if TYPE_CHECKING:
    from pathlib import Path

ROWS = "a,b,c\n1,2,3\n3,2,1\n"


def read_results(root: Path) -> Any:
    """The dataset under `root` as one table, with the partition column."""
    return ds.dataset(root, format="parquet", partitioning="hive").to_table()


def files_under(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def run(*args: str) -> int:
    return main(list(args))


@pytest.fixture
def rows_csv(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(ROWS, encoding="utf-8")
    return path


def test_runs_on_the_built_in_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert run() == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == len(SAMPLE_ROWS)
    assert summary["output"] is None


def test_writes_one_partition_with_the_schema(
    tmp_path: Path, rows_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 2
    assert summary["output"] == f"{root}/{PARTITION}=2024-05-31"
    assert files_under(root) == [f"{PARTITION}=2024-05-31/{FILE_NAME}"]
    written = pq.read_table(root / f"{PARTITION}=2024-05-31" / FILE_NAME)
    assert written.schema.equals(SCHEMA)
    assert written.column("row_number").to_pylist() == [0, 1]
    assert written.column("model_version").to_pylist() == [__version__] * 2
    assert written.column("score").to_pylist() == pytest.approx(score([[1, 2, 3], [3, 2, 1]]))


def test_a_rerun_replaces_its_partition_only(tmp_path: Path, rows_csv: Path) -> None:
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-30") == 0
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0
    one_row = tmp_path / "one.csv"
    one_row.write_text("a,b,c\n5,1,0\n", encoding="utf-8")
    assert run("--input", str(one_row), "--output", str(root), "--run-date", "2024-05-31") == 0

    rows_per_date = Counter(read_results(root).column(PARTITION).to_pylist())
    assert rows_per_date == {"2024-05-30": 2, "2024-05-31": 1}
    assert not [name for name in files_under(root) if name.startswith(STAGING)]


def test_reads_parquet_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"a": [1.0, 3.0], "b": [2, 2], "c": [3.0, 1.0]}), source)
    assert run("--input", str(source)) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,c\n1,x,3\n", "column 'b' holds string, not numbers"),
        ("a,b,c\n1,2,3\n1,2\n", "Expected 3 columns, got 2"),
        ("a,b,c\n1,,3\n", "column 'b' has 1 empty cell(s)"),
        ("a,b\n1,2\n", "expected 3 features, got 2"),
    ],
)
def test_bad_input_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    source = tmp_path / "rows.csv"
    source.write_text(content, encoding="utf-8")
    root = tmp_path / "scores"
    assert run("--input", str(source), "--output", str(root)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert message in captured.err
    assert not root.exists()


def test_missing_input_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--input", str(tmp_path / "missing.csv")) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"cannot read {tmp_path / 'missing.csv'}" in error


def test_unwritable_output_fails_with_one_line(
    tmp_path: Path, rows_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    assert run("--input", str(rows_csv), "--output", str(blocker / "scores")) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "cannot write" in error


@pytest.mark.parametrize("fails", ["raises", "truncates"])
def test_a_failed_write_keeps_the_old_partition(
    tmp_path: Path, rows_csv: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0
    before = read_results(root)

    def half_written(_table: Any, where: str, filesystem: Any) -> None:
        """Leave half a Parquet file behind, as a crash or a full disk would."""
        with filesystem.open_output_stream(where) as stream:
            stream.write(b"PAR1" + b"\0" * 16)
        if fails == "raises":
            msg = "No space left on device"
            raise OSError(msg)

    monkeypatch.setattr(pq, "write_table", half_written)
    assert run("--output", str(root), "--run-date", "2024-05-31") == 1

    assert read_results(root).equals(before)
    assert files_under(root) == [f"{PARTITION}=2024-05-31/{FILE_NAME}"]
