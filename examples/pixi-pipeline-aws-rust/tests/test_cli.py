"""End-to-end tests of the pipeline's command line: a run, its results, rejects and errors."""

from __future__ import annotations

import datetime as dt
import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from demo_project.cli import SAMPLE_ROWS, main
from demo_project.dataset import (
    MANIFEST,
    PARTITION,
    REJECTS_SCHEMA,
    SCHEMA,
    read_committed,
    read_manifest,
)
from demo_project.locations import parse
from demo_project.model import SAMPLE_ARTIFACT, load_model

if TYPE_CHECKING:
    from pathlib import Path

DATE = dt.date(2024, 5, 31)
ROWS = "a,b,c\n1,2,3\n3,2,1\n"
SAMPLE = files("demo_project") / SAMPLE_ARTIFACT


def run(*args: str) -> int:
    return main(list(args))


def committed(root: Path, date: dt.date = DATE, table: str = "scores") -> Any:
    return read_committed(parse(str(root)), date, table)


def files_under(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("demo-project: error: "), captured.err
    return captured.err


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
    assert summary["model_version"] == load_model().version


def test_writes_and_commits_a_partition(
    tmp_path: Path, rows_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "scores"
    args = ["--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31"]
    assert run("run", *args) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 2
    assert summary["committed"] is True
    assert summary["output"] == f"{root}/{PARTITION}=2024-05-31"
    written = committed(root)
    assert written.schema.equals(SCHEMA)
    assert written.column("source_row").to_pylist() == [0, 1]
    assert written.column("source_file").to_pylist() == [str(rows_csv)] * 2
    model = load_model()
    expected = model.predict(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
    assert written.column("score").to_pylist() == pytest.approx(expected.tolist())
    assert written.column("model_version").to_pylist() == [model.version] * 2

    manifest = read_manifest(parse(str(root)), DATE)
    assert manifest is not None
    assert manifest["run_id"] == summary["run_id"]
    assert manifest["rows"] == {"read": 2, "scored": 2, "rejected": 0}
    assert manifest["model"] == {
        "version": model.version,
        "checksum": model.checksum,
        "uri": model.uri,
    }
    assert manifest["input"]["files"] == [str(rows_csv)]
    assert [shard["rows_scored"] for shard in manifest["shards"]] == [2]
    assert manifest["files"]["rejects"] == []


def test_a_rerun_replaces_its_partition_only(tmp_path: Path, rows_csv: Path) -> None:
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-30") == 0
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0
    first = read_manifest(parse(str(root)), DATE)
    one_row = tmp_path / "one.csv"
    one_row.write_text("a,b,c\n5,1,0\n", encoding="utf-8")
    assert run("--input", str(one_row), "--output", str(root), "--run-date", "2024-05-31") == 0

    assert committed(root, dt.date(2024, 5, 30)).num_rows == 2
    assert committed(root).num_rows == 1
    manifest = read_manifest(parse(str(root)), DATE)
    assert manifest is not None
    assert first is not None
    assert manifest["previous_run_id"] == first["run_id"]
    # The earlier run of the date is gone; only the committed run and its manifest remain.
    partition = f"{PARTITION}=2024-05-31/"
    run_folder = f"{partition}{manifest['folder'].split('/')[-1]}/"
    left = [name for name in files_under(root) if name.startswith(partition)]
    assert all(name.startswith(run_folder) or name == partition + MANIFEST for name in left), left


def test_reads_parquet_input_and_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1.0, 3.0], "b": [2, 2], "c": [3.0, 1.0]}), folder / "x.parquet")
    (folder / "y.csv").write_text(ROWS, encoding="utf-8")
    (folder / "_ignored.csv").write_text("not,a,csv\nat,all,!\n", encoding="utf-8")
    assert run("--input", str(folder)) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 4


def test_memory_follows_the_batch_size(tmp_path: Path) -> None:
    """The run streams: each batch is written as it is scored, as its own row group."""
    source = tmp_path / "rows.parquet"
    pq.write_table(pa.table({name: np.arange(10, dtype=float) for name in "abc"}), source)
    root = tmp_path / "scores"
    assert run("--input", str(source), "--output", str(root), "--batch-size", "3") == 0
    (written,) = (root / name for name in files_under(root) if name.endswith(".parquet"))
    metadata = pq.read_metadata(written)
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [3, 3, 3, 1]


def test_bad_rows_are_rejected_with_their_reason_and_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "rows.csv"
    source.write_text(
        "a,b,c\n1,2,3\n1,x,3\n4,5\n\n1,,3\n1,inf,2\n7,8,9,10\n2,2,2\n", encoding="utf-8"
    )
    root = tmp_path / "scores"
    args = ["--input", str(source), "--output", str(root), "--run-date", "2024-05-31"]
    assert run(*args, "--max-reject-fraction", "0.9") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["rejected"]) == (2, 5)

    scores = committed(root)
    assert scores.column("source_row").to_pylist() == [0, 7]  # the blank line is no row
    rejects = committed(root, table="rejects")
    assert rejects.schema.equals(REJECTS_SCHEMA)
    wrong = "wrong number of features: expected 3"
    assert rejects.select(["source_row", "reason", "content"]).to_pylist() == [
        {"source_row": 1, "reason": "not a number in column 2", "content": "1,x,3"},
        {"source_row": 2, "reason": f"{wrong}, got 2", "content": "4,5"},
        {"source_row": 4, "reason": "missing value in column 2", "content": "1,,3"},
        {"source_row": 5, "reason": "non-finite value", "content": "1,inf,2"},
        {"source_row": 6, "reason": f"{wrong}, got 4", "content": "7,8,9,10"},
    ]
    manifest = read_manifest(parse(str(root)), DATE)
    assert manifest is not None
    assert manifest["rows"] == {"read": 7, "scored": 2, "rejected": 5}
    assert sum(manifest["rejects_by_reason"].values()) == 5


def test_parquet_nulls_and_nan_are_rejected(tmp_path: Path) -> None:
    source = tmp_path / "rows.parquet"
    table = pa.table(
        {"a": [1.0, None, 3.0, 4.0], "b": [1.0, 2.0, float("nan"), 4.0], "c": [1, 2, 3, 4]}
    )
    pq.write_table(table, source)
    root = tmp_path / "scores"
    assert run("--input", str(source), "--output", str(root), "--max-reject-fraction", "0.5") == 0
    today = dt.datetime.now(dt.UTC).date()
    rejects = committed(root, today, "rejects").select(["source_row", "reason"])
    assert rejects.to_pylist() == [
        {"source_row": 1, "reason": "missing value in column 'a'"},
        {"source_row": 2, "reason": "non-finite value"},
    ]
    assert committed(root, today).column("source_row").to_pylist() == [0, 3]


def test_too_many_rejects_fail_the_run_and_commit_nothing(
    tmp_path: Path, rows_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0
    before = read_manifest(parse(str(root)), DATE)
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n1,x,3\n", encoding="utf-8")
    assert run("--input", str(bad), "--output", str(root), "--run-date", "2024-05-31") == 1
    error = one_line_error(capsys)
    assert "rejected 1 of 2 rows (50.0%), more than --max-reject-fraction 0.01" in error
    assert "nothing committed" in error
    assert read_manifest(parse(str(root)), DATE) == before
    assert committed(root).num_rows == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the input has no rows"),
        ("a,b,c\n", "the input has no rows"),
        ("a,b\n1,2\n", "most often: wrong number of features: expected 3, got 2"),
    ],
)
def test_unusable_input_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    source = tmp_path / "rows.csv"
    source.write_text(content, encoding="utf-8")
    root = tmp_path / "scores"
    assert run("--input", str(source), "--output", str(root)) == 1
    assert message in one_line_error(capsys)
    assert not [name for name in files_under(root) if name.endswith(MANIFEST)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{missing}"], "cannot read {missing}: no such file or directory"),
        (["--input", "{empty}"], "{empty}: no input files (CSV or Parquet) found there"),
        (["--output", ""], "--output: empty location"),
        (["--output", "s3://"], "--output: s3://: no bucket"),
        (["--input", "ftp://host/rows.csv"], "unsupported scheme 'ftp'"),
        (["--output", "abfs://container/path"], "write abfs://CONTAINER@ACCOUNT"),
        (["--run-date", "31/05/2024"], "--run-date '31/05/2024': not a date like 2024-05-31"),
        (["--shard", "4/4", "--run-id", "r1"], "shard 4 of 4: the index must be from 0"),
        (["--shard", "1/2"], "several shards need the same --run-id"),
        (["--max-reject-fraction", "2"], "--max-reject-fraction 2: from 0 to 1"),
        (["--model", "{missing}"], "model artifact {missing}: cannot read it"),
    ],
)
def test_bad_options_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    places = {"missing": str(tmp_path / "missing.csv"), "empty": str(tmp_path / "empty")}
    assert run("run", *(arg.format(**places) for arg in args)) == 1
    assert message.format(**places) in one_line_error(capsys)


def test_unwritable_output_fails_with_one_line(
    tmp_path: Path, rows_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    assert run("--input", str(rows_csv), "--output", str(blocker / "scores")) == 1
    one_line_error(capsys)


def test_a_failed_write_keeps_the_committed_partition(
    tmp_path: Path, rows_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0
    before = committed(root)

    def full_disk(*_args: Any, **_kwargs: Any) -> None:
        msg = "No space left on device"
        raise OSError(msg)

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", full_disk)
    assert run("--output", str(root), "--run-date", "2024-05-31") == 1
    assert committed(root).equals(before)


def test_the_model_artifact_decides_the_version_in_results_and_manifest(
    tmp_path: Path, rows_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = tmp_path / "model.json"
    custom = json.loads(SAMPLE.read_text(encoding="utf-8"))  # the packaged model, renamed
    custom["version"] = "2.0.0-test"
    artifact.write_text(json.dumps(custom), encoding="utf-8")
    monkeypatch.setenv("MODEL_URI", str(artifact))
    root = tmp_path / "scores"
    assert run("--input", str(rows_csv), "--output", str(root), "--run-date", "2024-05-31") == 0
    assert set(committed(root).column("model_version").to_pylist()) == {"2.0.0-test"}
    manifest = read_manifest(parse(str(root)), DATE)
    assert manifest is not None
    assert manifest["model"]["version"] == "2.0.0-test"
    assert manifest["model"]["uri"] == str(artifact)
    assert manifest["model"]["checksum"] == load_model(str(artifact)).checksum
