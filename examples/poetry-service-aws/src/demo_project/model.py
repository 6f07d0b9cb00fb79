"""The model as an artifact: a versioned JSON file of weights and metadata.

`load_model` reads the artifact at a location: a path, or a URI such as
``s3://bucket/models/model.json`` (also ``gs://``, ``abfs://``). Without one it reads the
``MODEL_URI`` environment variable, and when that is unset or empty, the sample artifact
packaged with the code (``demo_project/sample_model.json``), so a fresh checkout runs.

The artifact is plain JSON, safe to load from anywhere (nothing in it is executed) and
readable in a code review::

    {
      "format": "linear-model",
      "format_version": 1,
      "version": "20240531T120000Z",
      "created": "2024-05-31T12:00:00+00:00",
      "features": ["x1", "x2", "x3"],
      "standardization": {"mean": [0.0, 1.0, 2.0], "scale": [1.0, 0.5, 2.0]},
      "weights": [0.5, -0.25, 1.0],
      "bias": 0.1,
      "training": {...}
    }

A prediction is ``bias + sum(weights * (features - mean) / scale)``. `train` (see
train.py) writes such files. Every field is checked on load: a missing, unreadable or
invalid artifact raises `ModelError`, one line that names the location and the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Never

import numpy as np
import numpy.typing as npt

from demo_project import locations

FORMAT = "linear-model"
FORMAT_VERSION = 1
ENVIRONMENT_VARIABLE = "MODEL_URI"
SAMPLE_ARTIFACT = "sample_model.json"
# Far above any linear model's size; a larger file is refused before it is parsed.
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
# The fields that make the model; any others are metadata (`Model.metadata`).
_MODEL_FIELDS = frozenset(
    ["format", "format_version", "version", "features", "standardization", "weights", "bias"]
)


class ModelError(ValueError):
    """The model artifact is missing, unreadable or invalid (one line: location, reason)."""


@dataclass(frozen=True, eq=False)
class Model:
    """A linear model over standardized features, loaded from an artifact."""

    version: str
    """The model's version, as written by `train`."""
    checksum: str
    """``sha256:<hex>`` of the artifact's bytes."""
    uri: str
    """Where the artifact was read from."""
    features: tuple[str, ...]
    """The names of the features, in the order `predict` expects them."""
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    bias: float
    metadata: dict[str, Any] = field(default_factory=dict)
    """What else the artifact records: creation time, training data, metrics."""

    def __post_init__(self) -> None:
        # Standardization folded into the weights: one matrix product per prediction,
        # no temporary array of the input's size.
        coefficients = self.weights / self.scale
        object.__setattr__(self, "_coefficients", coefficients)
        object.__setattr__(self, "_intercept", self.bias - float(self.mean @ coefficients))

    @property
    def n_features(self) -> int:
        """The number of features the model expects per row."""
        return len(self.features)

    def predict(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Predict one value per row of a ``(rows, n_features)`` array.

        Vectorized and pure. Non-finite inputs give non-finite predictions: check the
        input first where it comes from outside. Raises ValueError for another shape.
        """
        rows = np.asarray(features, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            msg = f"expected an array of shape (rows, {self.n_features}), got {rows.shape}"
            raise ValueError(msg)
        coefficients: npt.NDArray[np.float64] = vars(self)["_coefficients"]
        intercept: float = vars(self)["_intercept"]
        result: npt.NDArray[np.float64] = rows @ coefficients + intercept
        return result


def load_model(uri: str | None = None) -> Model:
    """The model of the artifact at `uri`.

    Without `uri`: the ``MODEL_URI`` environment variable; when that is unset or empty,
    the sample artifact packaged with the code. Raises `ModelError` (one line naming the
    location and the reason) when the artifact is missing, unreadable or invalid.
    """
    if uri is None:
        uri = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not uri:
        sample = files("demo_project").joinpath(SAMPLE_ARTIFACT)
        return parse_artifact(sample.read_bytes(), str(sample))
    return parse_artifact(_read(uri), uri)


def parse_artifact(data: bytes, uri: str) -> Model:
    """The model in an artifact's bytes, checked field by field; `uri` names it in errors."""
    if len(data) > MAX_ARTIFACT_BYTES:
        _fail(uri, f"larger than {MAX_ARTIFACT_BYTES} bytes")
    try:
        document = json.loads(data, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as error:
        _fail(uri, f"not valid JSON: {locations.one_line(error)}")
    if not isinstance(document, dict):
        _fail(uri, "not a JSON object")
    if document.get("format") != FORMAT:
        _fail(uri, f"'format' is {document.get('format')!r}, expected {FORMAT!r}")
    if document.get("format_version") != FORMAT_VERSION:
        _fail(
            uri,
            f"'format_version' is {document.get('format_version')!r}; this code reads "
            f"version {FORMAT_VERSION}",
        )
    version = document.get("version")
    if not isinstance(version, str) or not version.strip() or not version.isprintable():
        _fail(uri, "'version' must be a non-empty string on one line")
    names = document.get("features")
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(name, str) and name for name in names)
    ):
        _fail(uri, "'features' must be a non-empty list of feature names")
    if len(set(names)) != len(names):
        _fail(uri, "'features' names a feature twice")
    standardization = document.get("standardization")
    if not isinstance(standardization, dict):
        _fail(uri, "'standardization' must be an object with 'mean' and 'scale'")
    mean = _numbers(uri, "standardization.mean", standardization.get("mean"), len(names))
    scale = _numbers(uri, "standardization.scale", standardization.get("scale"), len(names))
    if not (scale > 0).all():
        _fail(uri, "'standardization.scale' must hold positive numbers")
    weights = _numbers(uri, "weights", document.get("weights"), len(names))
    bias = _numbers(uri, "bias", [document.get("bias")], 1)[0]
    return Model(
        version=version,
        checksum=f"sha256:{hashlib.sha256(data).hexdigest()}",
        uri=uri,
        features=tuple(names),
        mean=mean,
        scale=scale,
        weights=weights,
        bias=float(bias),
        metadata={key: value for key, value in document.items() if key not in _MODEL_FIELDS},
    )


def _numbers(uri: str, name: str, value: object, count: int) -> npt.NDArray[np.float64]:
    """`value` as a read-only array of `count` finite numbers, or a ModelError."""
    if not isinstance(value, list) or not all(
        isinstance(item, (int, float)) and not isinstance(item, bool) for item in value
    ):
        _fail(uri, f"'{name}' must be {'a number' if name == 'bias' else 'a list of numbers'}")
    if len(value) != count:
        _fail(uri, f"'{name}' has {len(value)} numbers, expected {count} (one per feature)")
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        array = np.array([math.inf])
    if not np.isfinite(array).all():
        _fail(uri, f"'{name}' holds a number that is not finite")
    array.flags.writeable = False
    return array


def _read(uri: str) -> bytes:
    """The bytes at a path or a URI (s3://, gs://, abfs://, file://), at most the limit."""
    try:
        where = locations.parse(uri)
        if where.is_local:
            with Path(where.path).open("rb") as file:
                return file.read(MAX_ARTIFACT_BYTES + 1)
        filesystem, path = locations.resolve(where)
        with filesystem.open_input_stream(path) as stream:
            data: bytes = stream.read(MAX_ARTIFACT_BYTES + 1)
            return data
    except locations.LocationError as error:  # malformed, or the store is out of reach
        msg = f"model artifact {error}"
        raise ModelError(msg) from error
    except Exception as error:  # OSError and pyarrow's errors, whatever the store
        reason = error.strerror if isinstance(error, OSError) else None
        msg = f"model artifact {uri}: cannot read it: {reason or locations.one_line(error)}"
        raise ModelError(msg) from error


def _no_constant(name: str) -> None:
    msg = f"{name} is not a number JSON allows"
    raise ValueError(msg)


def _fail(uri: str, reason: str) -> Never:
    msg = f"model artifact {uri}: {reason}"
    raise ModelError(msg)
