"""Tests of training: a model fitted from CSV and Parquet, and bad data that writes nothing."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from demo_project import train
from demo_project.model import load_model

if TYPE_CHECKING:
    from pathlib import Path

# The relation the model should learn: target = 2 x1 - x2 + 0.5 x3 + 3 (+ small noise).
TRUE_WEIGHTS = np.array([2.0, -1.0, 0.5])
TRUE_BIAS = 3.0


def dataset(rows: int = 200, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    features = rng.normal(loc=[0.0, 5.0, -2.0], scale=[1.0, 3.0, 0.5], size=(rows, 3))
    target = features @ TRUE_WEIGHTS + TRUE_BIAS + rng.normal(scale=0.01, size=rows)
    return {"x1": features[:, 0], "x2": features[:, 1], "x3": features[:, 2], "y": target}


def save(columns: dict[str, Any], path: Path) -> str:
    table = pa.table(columns)
    if path.suffix == ".csv":
        pa_csv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return str(path)


def run_train(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="train")
    train.add_arguments(parser)
    return train.run(parser.parse_args(argv))


@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet"])
def test_train_fits_the_data_and_writes_the_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    data = save(dataset(), tmp_path / name)
    output = tmp_path / "models" / "model.json"
    code = run_train(
        "--data", data, "--target", "y", "--output", str(output), "--model-version", "v7"
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    model = load_model(str(output))
    assert summary["output"] == str(output)
    assert (summary["version"], model.version) == ("v7", "v7")
    assert summary["checksum"] == model.checksum
    assert model.features == ("x1", "x2", "x3")
    # The fitted model reproduces the relation in the data.
    rows = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-1.0, 10.0, -4.0]])
    np.testing.assert_allclose(model.predict(rows), rows @ TRUE_WEIGHTS + TRUE_BIAS, atol=0.01)
    training = model.metadata["training"]
    assert training["data"] == data
    assert training["rows"] == 200
    assert training["holdout"] == {"share": 0.2, "seed": 0, "rows": 40}
    assert training["metrics"] == summary["metrics"]
    assert training["metrics"]["rmse"] < 0.05
    assert training["metrics"]["r2"] > 0.99
    assert "created" in model.metadata
    assert [path.name for path in output.parent.iterdir()] == ["model.json"]


def test_training_is_deterministic(tmp_path: Path) -> None:
    data = save(dataset(), tmp_path / "rows.parquet")
    for name in ("a.json", "b.json"):
        args = ("--data", data, "--target", "y", "--model-version", "same")
        assert run_train(*args, "--output", str(tmp_path / name)) == 0
    first = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    second = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    for document in (first, second):
        document.pop("created")
    assert first == second


def test_the_git_revision_comes_from_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    revision = "0123456789abcdef" * 2 + "01234567"
    monkeypatch.setenv("GITHUB_SHA", revision)
    data = save(dataset(), tmp_path / "rows.csv")
    assert run_train("--data", data, "--target", "y", "--output", str(tmp_path / "m.json")) == 0
    training = load_model(str(tmp_path / "m.json")).metadata["training"]
    assert training["git_revision"] == revision


def bad(change: str) -> dict[str, Any]:
    columns = dataset(rows=50)
    if change == "no target":
        columns.pop("y")
    elif change == "too few rows":
        columns = {name: values[:5] for name, values in columns.items()}
    elif change == "text":
        columns["x2"] = ["a"] * 50
    elif change == "empty cell":
        columns["x1"] = pa.array([None, *columns["x1"][1:]], type=pa.float64())
    elif change == "NaN":
        columns["x3"][7] = np.nan
    elif change == "infinity":
        columns["y"][3] = np.inf
    return columns


BAD_DATA = {
    "no target": "no target column 'y'",
    "too few rows": "5 rows; training needs at least 10",
    "text": "column 'x2' holds string, not numbers",
    "empty cell": "column 'x1' has 1 missing values",
    "NaN": "column 'x3' has 1 value(s) that are NaN or infinite",
    "infinity": "column 'y' has 1 value(s) that are NaN or infinite",
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("change", list(BAD_DATA))
def test_bad_data_gets_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, suffix: str
) -> None:
    data_dir, out_dir = tmp_path / "data", tmp_path / "out"
    data_dir.mkdir()
    out_dir.mkdir()
    data = save(bad(change), data_dir / f"rows{suffix}")
    code = run_train("--data", data, "--target", "y", "--output", str(out_dir / "model.json"))
    assert code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    # CSV readers take "nan" for a missing value; Parquet keeps NaN as a number.
    nan_in_csv = change == "NaN" and suffix == ".csv"
    expected = "column 'x3' has 1 missing values" if nan_in_csv else BAD_DATA[change]
    assert expected in error
    assert list(out_dir.iterdir()) == []


def test_a_missing_dataset_gets_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "absent.parquet")
    code = run_train("--data", missing, "--output", str(tmp_path / "model.json"))
    assert code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert f"cannot read {missing}" in error
    assert not (tmp_path / "model.json").exists()
