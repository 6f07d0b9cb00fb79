"""Tests of the HTTP app through FastAPI's test client."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING

import numpy as np
import pytest
from fastapi.testclient import TestClient

from demo_project.app import MAX_BODY_BYTES, create_app
from demo_project.model import Model, load_model

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def model() -> Model:
    return load_model(str(files("demo_project").joinpath("sample_model.json")))


@pytest.fixture
def client(model: Model) -> TestClient:
    return TestClient(create_app(model))


def test_health_reports_the_model(client: TestClient, model: Model) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model_version": "sample-1",
        "model_checksum": model.checksum,
    }


def test_predict(client: TestClient, model: Model) -> None:
    response = client.post("/predict", json={"features": [1.0, 2.0, 3.0]})
    assert response.status_code == 200
    expected = float(model.predict(np.array([[1.0, 2.0, 3.0]]))[0])
    assert response.json() == {"prediction": pytest.approx(expected), "model_version": "sample-1"}


def test_the_app_serves_the_model_it_is_given(tmp_path: Path) -> None:
    document = {
        "format": "linear-model",
        "format_version": 1,
        "version": "two-features",
        "features": ["a", "b"],
        "standardization": {"mean": [0.0, 0.0], "scale": [1.0, 1.0]},
        "weights": [2.0, 3.0],
        "bias": 1.0,
    }
    (tmp_path / "model.json").write_text(json.dumps(document), encoding="utf-8")
    client = TestClient(create_app(load_model(str(tmp_path / "model.json"))))
    assert client.get("/health").json()["model_version"] == "two-features"
    response = client.post("/predict", json={"features": [1.0, 1.0]})
    assert response.json() == {"prediction": 6.0, "model_version": "two-features"}
    assert client.post("/predict", json={"features": [1.0, 2.0, 3.0]}).status_code == 422


@pytest.mark.parametrize("features", [[1.0], [1.0, 2.0, 3.0, 4.0], []])
def test_predict_refuses_another_feature_count(client: TestClient, features: list[float]) -> None:
    response = client.post("/predict", json={"features": features})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "features"]]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_predict_refuses_numbers_that_are_not_finite(client: TestClient, value: str) -> None:
    response = client.post(
        "/predict",
        content='{"features": [' + value + ", 2, 3]}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "features", 0]]


def test_a_large_body_gets_413_before_it_is_parsed(client: TestClient) -> None:
    # Two million numbers, and not even valid JSON: refused by its size alone.
    body = b'{"features": [' + b"1.0, " * 2_000_000
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}


def test_a_streamed_body_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # sent without Content-Length (chunked)
        yield b'{"features": ['
        for _ in range(1000):
            yield b"1.0, " * 1000

    response = client.post(
        "/predict", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}


def test_a_body_just_under_the_limit_is_parsed(client: TestClient) -> None:
    body = json.dumps({"features": [1.0, 2.0, 3.0], "padding": " " * (MAX_BODY_BYTES - 100)})
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
