"""Tests of the core model code, shared by every project kind."""

from __future__ import annotations

import math

import pytest

from demo_project import DEFAULT_MODEL, LinearModel, __version__, standardize


def test_version_is_a_string() -> None:
    assert isinstance(__version__, str)
    assert __version__


def test_standardize_has_zero_mean_and_unit_variance() -> None:
    scaled = standardize([1.0, 2.0, 3.0, 4.0])
    assert math.isclose(sum(scaled), 0.0, abs_tol=1e-12)
    assert math.isclose(sum(value**2 for value in scaled) / len(scaled), 1.0)


def test_standardize_constant_and_empty_input() -> None:
    assert standardize([5.0, 5.0]) == [0.0, 0.0]
    assert standardize([]) == []


def test_linear_model_predicts() -> None:
    model = LinearModel(weights=(2.0, -1.0), bias=0.5)
    assert model.predict([1.0, 3.0]) == pytest.approx(-0.5)


def test_linear_model_rejects_wrong_feature_count() -> None:
    with pytest.raises(ValueError, match="expected 3 features, got 1"):
        DEFAULT_MODEL.predict([1.0])
