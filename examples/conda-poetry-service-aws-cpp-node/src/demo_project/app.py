"""HTTP model-serving app: ``GET /health`` and ``POST /predict``.

`create_app` serves one model, loaded once before the app starts:
``demo-project serve`` (cli.py) loads it from ``MODEL_URI`` and stops
with one line when it cannot, before serving anything.

``/predict`` refuses what the model cannot score, with 422 and the field at fault: a
feature count other than the model's, or a value that is not a finite number. A body
larger than `MAX_BODY_BYTES` gets 413 before it is read: at once when its Content-Length
says so, or as soon as a streamed body passes the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from demo_project import __version__

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from demo_project.model import Model

# One row of features is a few hundred bytes of JSON; this leaves room for thousands.
MAX_BODY_BYTES = 64 * 1024

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Health(BaseModel):
    """The service is up, and the model it serves."""

    status: str
    model_version: str
    model_checksum: str


class PredictRequest(BaseModel):
    """One row of features: as many finite numbers as the model has features."""

    features: list[FiniteFloat] = Field(examples=[[1.0, 2.0, 3.0]])


class PredictResponse(BaseModel):
    """The model's prediction for one row, and which model made it."""

    prediction: float
    model_version: str


def create_app(model: Model, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The app that serves `model` (see `demo_project.model.load_model`)."""
    app = FastAPI(
        title="Demo Project",
        version=__version__,
    )
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        """422 naming each field at fault, without echoing its input (NaN is not JSON)."""
        fields = ("type", "loc", "msg")
        detail = [{key: value[key] for key in fields} for value in error.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/health")
    def health() -> Health:
        """Liveness probe for the container's HEALTHCHECK and load balancers."""
        return Health(status="ok", model_version=model.version, model_checksum=model.checksum)

    @app.post("/predict")
    def predict(request: PredictRequest) -> PredictResponse:
        """Predict one value from one row of features."""
        if len(request.features) != model.n_features:
            error = {
                "type": "value_error",
                "loc": ("body", "features"),
                "msg": f"expected {model.n_features} features, got {len(request.features)}",
            }
            raise RequestValidationError([error])
        value = float(model.predict(np.array([request.features]))[0])
        return PredictResponse(prediction=value, model_version=model.version)

    return app


class BodySizeLimit:
    """ASGI middleware: 413 for a request body larger than `max_bytes`, before it is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared size over the limit at once; count a streamed body's bytes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": too_large_detail(self.max_bytes)}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # The app is reading the body: FastAPI answers this exception with 413.
                raise HTTPException(status_code=413, detail=too_large_detail(self.max_bytes))
            return message

        await self.app(scope, limited, send)


def too_large_detail(max_bytes: int) -> str:
    """The detail of the 413 response."""
    return f"request body larger than {max_bytes} bytes"
