"""Tests of the command line: serve loads the model first; train is registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uvicorn
from fastapi.testclient import TestClient

from demo_project.cli import main

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `serve` hands to uvicorn, instead of serving."""
    calls: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        calls["app"] = app
        calls.update(options)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


CANNOT_LOAD = {
    "missing": (None, "cannot read it: No such file or directory"),
    "not JSON": ("{", "not valid JSON"),
    "no features": (
        '{"format": "linear-model", "format_version": 1, "version": "x"}',
        "'features'",
    ),
}


@pytest.mark.parametrize("case", list(CANNOT_LOAD))
def test_serve_stops_with_one_line_when_the_model_cannot_load(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: dict[str, Any],
    case: str,
) -> None:
    content, reason = CANNOT_LOAD[case]
    location = tmp_path / "model.json"
    if content is not None:
        location.write_text(content, encoding="utf-8")
    monkeypatch.setenv("MODEL_URI", str(location))
    assert main(["serve"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert error.startswith(f"demo-project serve: error: model artifact {location}: ")
    assert reason in error
    assert served == {}, "nothing is served"


def test_serve_loads_the_model_then_serves_it(
    monkeypatch: pytest.MonkeyPatch, served: dict[str, Any]
) -> None:
    monkeypatch.delenv("MODEL_URI", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "9000"]) == 0
    assert (served["host"], served["port"]) == ("0.0.0.0", 9000)
    health = TestClient(served["app"]).get("/health").json()
    assert health["model_version"] == "sample-1"


def test_train_is_a_subcommand(tmp_path: Path, served: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 3))
    table = pa.table({"x1": features[:, 0], "x2": features[:, 1], "x3": features[:, 2],
                      "target": features @ [1.0, 2.0, 3.0]})  # fmt: skip
    pq.write_table(table, tmp_path / "rows.parquet")
    output = tmp_path / "model.json"
    data = str(tmp_path / "rows.parquet")
    assert main(["train", "--data", data, "--output", str(output)]) == 0
    assert output.is_file()
    assert main(["serve", "--model-uri", str(output)]) == 0
    assert TestClient(served["app"]).get("/health").json()["model_version"] != "sample-1"
