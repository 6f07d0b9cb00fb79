"""Shards, the commit and backfills: every row in exactly one shard, visible only once all
shards finished, and a rerun that replaces the date's results whole."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from demo_project.cli import main
from demo_project.dataset import read_committed, read_manifest
from demo_project.inputs import plan
from demo_project.locations import parse
from demo_project.shards import shard_of

if TYPE_CHECKING:
    from pathlib import Path

DATE = dt.date(2024, 5, 31)


def committed(root: Path, date: dt.date = DATE, table: str = "scores") -> Any:
    return read_committed(parse(str(root)), date, table)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Input of 1,000 rows: six small CSV files, and a Parquet file of five row groups
    large enough to be cut between shards; one row in each CSV file is bad."""
    path = tmp_path / "input"
    path.mkdir()
    for number in range(6):
        rows = [f"{number},{row},{row % 7}" for row in range(50)]
        rows[number] = "1,2"  # a reject
        text = "a,b,c\n" + "\n".join(rows) + "\n"
        (path / f"part-{number}.csv").write_text(text, encoding="utf-8")
    values = np.arange(700, dtype=np.float64)
    table = pa.table({"a": values, "b": values * 2, "c": np.full(700, 3.0)})
    pq.write_table(table, path / "big.parquet", row_group_size=140)
    return path


def run_shards(folder: Path, root: Path, count: int, run_id: str, skip: int | None = None) -> None:
    for index in range(count):
        if index != skip:
            args = ["run", "--input", str(folder), "--output", str(root), "--run-date", str(DATE)]
            assert main([*args, "--shard", f"{index}/{count}", "--run-id", run_id]) == 0


def commit(root: Path, run_id: str) -> int:
    args = ["commit", "--output", str(root), "--run-date", str(DATE), "--run-id", run_id]
    return main([*args, "--max-reject-fraction", "0.05"])


def test_every_part_is_in_exactly_one_shard_and_shards_are_balanced(folder: Path) -> None:
    cut = plan(parse(str(folder)), 4)
    # The Parquet file is more than a shard's share: its five row groups are parts.
    assert len(cut.parts) == 6 + 5
    shards = [cut.shard(index, 4) for index in range(4)]
    keys = [part.key for shard in shards for part in shard]
    assert sorted(keys) == sorted(part.key for part in cut.parts)
    loads = [sum(part.weight for part in shard) for shard in shards]
    assert max(loads) - min(loads) <= max(part.weight for part in cut.parts)
    # Every shard computes the same deal from the same listing.
    assert [plan(parse(str(folder)), 4).shard(index, 4) for index in range(4)] == shards
    # One shard reads whole files: no footer is read.
    assert len(plan(parse(str(folder)), 1).parts) == 7


def test_the_shard_comes_from_the_flag_or_the_job_engine() -> None:
    batch = {"AWS_BATCH_JOB_ARRAY_INDEX": "2", "AWS_BATCH_JOB_ARRAY_SIZE": "4"}
    batch["AWS_BATCH_JOB_ID"] = "3c4f-parent:2"
    assert shard_of(None, None, batch) == shard_of("2/4", "3c4f-parent", {})
    cloud_run = {"CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "3"}
    cloud_run["CLOUD_RUN_EXECUTION"] = "job-abc12"
    assert str(shard_of(None, None, cloud_run)) == "1/3"
    assert shard_of(None, None, cloud_run).run_id == "job-abc12"
    alone = shard_of(None, None, {})
    assert (alone.index, alone.count) == (0, 1)
    assert shard_of("0/2", "given", batch).run_id == "given"


def test_shards_then_commit_give_every_row_once(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "scores"
    run_shards(folder, root, 4, "run-4")
    # Nothing is visible before the commit.
    assert read_manifest(parse(str(root)), DATE) is None
    assert commit(root, "run-4") == 0

    scores = committed(root)
    rejects = committed(root, table="rejects")
    assert (scores.num_rows, rejects.num_rows) == (1000 - 6, 6)
    keys = scores.select(["source_file", "source_row"]).to_pylist()
    assert len({(key["source_file"], key["source_row"]) for key in keys}) == scores.num_rows
    manifest = read_manifest(parse(str(root)), DATE)
    assert manifest is not None
    assert [shard["shard"] for shard in manifest["shards"]] == [0, 1, 2, 3]
    assert sum(shard["rows_read"] for shard in manifest["shards"]) == 1000
    assert manifest["rows"] == {"read": 1000, "scored": 994, "rejected": 6}
    assert len(manifest["input"]["files"]) == 7


def test_a_rerun_with_fewer_shards_leaves_no_stale_rows(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "scores"
    run_shards(folder, root, 4, "first")
    assert commit(root, "first") == 0
    (folder / "part-5.csv").unlink()
    run_shards(folder, root, 2, "second")
    assert commit(root, "second") == 0
    assert committed(root).num_rows == 1000 - 50 - 5
    assert not list(root.rglob("run=first"))


def test_a_missing_shard_commits_nothing(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "scores"
    run_shards(folder, root, 2, "before")
    assert commit(root, "before") == 0
    before = committed(root)
    capsys.readouterr()
    run_shards(folder, root, 4, "after", skip=2)  # shard 2 died
    assert commit(root, "after") == 1
    error = capsys.readouterr().err
    assert "shard(s) 2 of 4 did not finish" in error
    assert error.count("\n") == 1
    assert committed(root).equals(before)


def test_backfill_commits_each_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day in ("2024-05-01", "2024-05-02", "2024-05-03"):
        (tmp_path / "input" / day).mkdir(parents=True)
        (tmp_path / "input" / day / "rows.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    (tmp_path / "input" / "2024-05-02" / "more.csv").write_text("a,b,c\n4,5,6\n", encoding="utf-8")
    root = tmp_path / "scores"
    source = str(tmp_path / "input" / "{run_date}")
    args = ["backfill", "--from", "2024-05-01", "--to", "2024-05-03", "--jobs", "2"]
    assert main([*args, "--input", source, "--output", str(root)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["committed"] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    counts = [committed(root, dt.date(2024, 5, day)).num_rows for day in (1, 2, 3)]
    assert counts == [1, 2, 1]

    # A date without input fails alone; the others are committed.
    args = ["backfill", "--from", "2024-05-03", "--to", "2024-05-04"]
    assert main([*args, "--input", source, "--output", str(root)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["failed"].keys() == {"2024-05-04"}
    assert captured.err.count("\n") == 1
    assert "1 of 2 dates failed" in captured.err
