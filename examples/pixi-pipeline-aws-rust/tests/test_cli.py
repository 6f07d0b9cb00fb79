"""End-to-end tests of the pipeline's command line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from demo_project.cli import SAMPLE_ROWS, main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_runs_on_the_built_in_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == len(SAMPLE_ROWS)


def test_reads_and_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("a,b,c\n1,2,3\n3,2,1\n", encoding="utf-8")
    target = tmp_path / "scores.csv"

    assert main(["--input", str(source), "--output", str(target)]) == 0

    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "score"
    assert len(lines) == 3
    assert json.loads(capsys.readouterr().out)["rows"] == 2
