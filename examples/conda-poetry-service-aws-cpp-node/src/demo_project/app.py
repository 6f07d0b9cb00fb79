"""HTTP model-serving app: ``GET /health`` and ``POST /predict``.

Run it with ``uvicorn demo_project.app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from demo_project import __version__
from demo_project.core import DEFAULT_MODEL

app = FastAPI(
    title="Demo Project",
    version=__version__,
)


class PredictRequest(BaseModel):
    """One row of features."""

    features: list[float] = Field(min_length=1, examples=[[1.0, 2.0, 3.0]])


class PredictResponse(BaseModel):
    """The model's prediction for one row."""

    prediction: float
    model_version: str


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness probe for the container's HEALTHCHECK and the load balancer."""
    return {"status": "ok"}


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    """Predict one value from one row of features."""
    try:
        value = DEFAULT_MODEL.predict(request.features)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    return PredictResponse(prediction=value, model_version=__version__)
