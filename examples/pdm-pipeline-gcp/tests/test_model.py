"""Tests of the model artifact: where it is found, what is checked, how it predicts."""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from demo_project import model as model_module
from demo_project.model import ModelError, load_model

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SAMPLE = files("demo_project").joinpath("sample_model.json")


def artifact(**changes: Any) -> dict[str, Any]:
    """A valid artifact of two features, with `changes` applied."""
    document: dict[str, Any] = {
        "format": "linear-model",
        "format_version": 1,
        "version": "test-1",
        "features": ["a", "b"],
        "standardization": {"mean": [1.0, -2.0], "scale": [2.0, 0.5]},
        "weights": [3.0, -1.0],
        "bias": 0.25,
    }
    document.update(changes)
    return document


def write(path: Path, document: object) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_without_model_uri_the_packaged_sample_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in (None, "", "  "):
        if value is None:
            monkeypatch.delenv("MODEL_URI", raising=False)
        else:
            monkeypatch.setenv("MODEL_URI", value)
        model = load_model()
        assert model.version == "sample-1"
        assert model.checksum == f"sha256:{hashlib.sha256(SAMPLE.read_bytes()).hexdigest()}"
        assert model.uri.endswith("sample_model.json")
        assert model.n_features == 3


def test_model_uri_names_the_artifact(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path / "model.json", artifact())
    monkeypatch.setenv("MODEL_URI", path)
    model = load_model()
    assert (model.version, model.uri, model.n_features) == ("test-1", path, 2)
    assert model.features == ("a", "b")
    data = (tmp_path / "model.json").read_bytes()
    assert model.checksum == f"sha256:{hashlib.sha256(data).hexdigest()}"
    # An explicit location wins over the environment.
    assert load_model(str(SAMPLE)).version == "sample-1"


def test_a_uri_is_read_through_its_filesystem(tmp_path: Path) -> None:
    path = write(tmp_path / "model.json", artifact(version="from-uri"))
    assert load_model(f"file://{path}").version == "from-uri"


def test_other_fields_are_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "model.json", artifact(training={"rows": 10}, created="2024-05-31"))
    assert load_model(path).metadata == {"training": {"rows": 10}, "created": "2024-05-31"}


def test_predict_is_vectorized_over_standardized_features(tmp_path: Path) -> None:
    model = load_model(write(tmp_path / "model.json", artifact()))
    rows = np.random.default_rng(0).normal(size=(1000, 2))
    expected = 0.25 + 3.0 * (rows[:, 0] - 1.0) / 2.0 - 1.0 * (rows[:, 1] + 2.0) / 0.5
    predicted = model.predict(rows)
    assert predicted.shape == (1000,)
    assert predicted.dtype == np.float64
    np.testing.assert_allclose(predicted, expected, rtol=1e-12, atol=1e-12)
    assert model.predict(np.empty((0, 2))).shape == (0,)


def test_the_sample_predicts_from_its_own_weights() -> None:
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    mean = np.array(document["standardization"]["mean"])
    scale = np.array(document["standardization"]["scale"])
    rows = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 10.0]])
    expected = ((rows - mean) / scale) @ np.array(document["weights"]) + document["bias"]
    np.testing.assert_allclose(load_model(str(SAMPLE)).predict(rows), expected)


@pytest.mark.parametrize("shape", [(3,), (2, 3), (1, 1), (2, 2, 2)])
def test_predict_refuses_other_shapes(tmp_path: Path, shape: tuple[int, ...]) -> None:
    model = load_model(write(tmp_path / "model.json", artifact()))
    with pytest.raises(ValueError, match=r"expected an array of shape \(rows, 2\)"):
        model.predict(np.zeros(shape))


INVALID: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing": (lambda tmp: str(tmp / "absent.json"), "cannot read it: No such file"),
    "not JSON": (lambda tmp: _text(tmp, "{not json"), "not valid JSON"),
    "NaN literal": (lambda tmp: _text(tmp, json.dumps(artifact()).replace("0.25", "NaN")), "NaN"),
    "not an object": (lambda tmp: write(tmp / "m.json", [1, 2]), "not a JSON object"),
    "other format": (lambda tmp: write(tmp / "m.json", artifact(format="pickle")), "'format'"),
    "newer format": (
        lambda tmp: write(tmp / "m.json", artifact(format_version=2)),
        "'format_version' is 2",
    ),
    "no version": (lambda tmp: write(tmp / "m.json", artifact(version="")), "'version'"),
    "no features": (lambda tmp: write(tmp / "m.json", artifact(features=[])), "'features'"),
    "twice a feature": (
        lambda tmp: write(tmp / "m.json", artifact(features=["a", "a"])),
        "names a feature twice",
    ),
    "short weights": (
        lambda tmp: write(tmp / "m.json", artifact(weights=[1.0])),
        "'weights' has 1 numbers, expected 2",
    ),
    "text weight": (
        lambda tmp: write(tmp / "m.json", artifact(weights=[1.0, "2"])),
        "'weights' must be a list of numbers",
    ),
    "huge weight": (
        lambda tmp: _text(tmp, json.dumps(artifact()).replace("3.0", "1e999")),
        "'weights' holds a number that is not finite",
    ),
    "huge integer": (
        lambda tmp: write(tmp / "m.json", artifact(bias=10**400)),
        "'bias' holds a number that is not finite",
    ),
    "zero scale": (
        lambda tmp: write(
            tmp / "m.json", artifact(standardization={"mean": [0, 0], "scale": [1, 0]})
        ),
        "'standardization.scale' must hold positive numbers",
    ),
    "no standardization": (
        lambda tmp: write(tmp / "m.json", artifact(standardization=None)),
        "'standardization' must be an object",
    ),
    "boolean bias": (lambda tmp: write(tmp / "m.json", artifact(bias=True)), "'bias'"),
    "no bucket": (lambda _tmp: "s3://", "no bucket"),
    "unknown scheme": (lambda _tmp: "ftp://host/model.json", "unsupported scheme 'ftp'"),
}


def _text(tmp: Path, text: str) -> str:
    (tmp / "m.json").write_text(text, encoding="utf-8")
    return str(tmp / "m.json")


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_artifact_fails_with_one_line(tmp_path: Path, case: str) -> None:
    make, reason = INVALID[case]
    location = make(tmp_path)
    with pytest.raises(ModelError) as raised:
        load_model(location)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"model artifact {location}: ")
    assert reason in message


def test_an_oversized_artifact_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "MAX_ARTIFACT_BYTES", 100)
    with pytest.raises(ModelError, match="larger than 100 bytes"):
        load_model(write(tmp_path / "model.json", artifact()))
