"""Tests of the HTTP app through FastAPI's test client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from demo_project.app import app


@pytest.fixture
def client() -> TestClient:
    return TestClient(app)


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_predict(client: TestClient) -> None:
    response = client.post("/predict", json={"features": [1.0, 2.0, 3.0]})
    assert response.status_code == 200
    assert response.json()["prediction"] == pytest.approx(3.1)


def test_predict_rejects_wrong_feature_count(client: TestClient) -> None:
    response = client.post("/predict", json={"features": [1.0]})
    assert response.status_code == 422
