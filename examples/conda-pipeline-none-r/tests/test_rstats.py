"""Tests of the R script (src/demo_project/r/summarize.R) through its Python wrapper.

They run R for real and skip, saying why, where R is not installed.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics

import pytest

from demo_project.cli import SAMPLE_ROWS, main
from demo_project.rstats import STATISTICS, summarize

needs_r = pytest.mark.skipif(
    shutil.which("Rscript") is None,
    reason="Rscript is not installed: install R to run this test (see README.md)",
)


@needs_r
def test_summary_matches_python_statistics() -> None:
    values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.5]
    summary = summarize(values)
    q25, median, q75 = statistics.quantiles(values, n=4, method="inclusive")
    assert tuple(summary) == STATISTICS
    assert summary == pytest.approx(
        {
            "n": 8,
            "mean": statistics.fmean(values),
            "sd": statistics.stdev(values),
            "min": 2.0,
            "q25": q25,
            "median": median,
            "q75": q75,
            "max": 9.5,
        },
        rel=1e-12,
    )


@needs_r
def test_a_single_value_has_no_spread() -> None:
    summary = summarize([3.25])
    assert summary["n"] == 1
    assert summary["median"] == 3.25
    assert math.isnan(summary["sd"])


def test_rejects_empty_and_non_finite_input() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        summarize([])
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, math.inf])


@needs_r
def test_the_pipeline_adds_the_r_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--r-summary"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["r_summary"]["n"] == len(SAMPLE_ROWS)
    assert summary["r_summary"]["mean"] == pytest.approx(summary["mean_score"])
