"""Tests of the compiled extension (Rust: src/lib.rs); test_core.py tests the model that uses it."""

from __future__ import annotations

import math

import pytest

from demo_project import _native


def test_the_extension_is_compiled() -> None:
    assert _native.__file__.endswith((".so", ".pyd")), _native.__file__


def test_dot_multiplies_and_sums() -> None:
    assert _native.dot([1.0, 2.0, 3.0], [4.0, -5.0, 6.0]) == 12.0
    assert _native.dot((0.5,), (4.0,)) == 2.0
    assert _native.dot([], []) == 0.0


def test_dot_compensates_rounding_like_fsum() -> None:
    weights = [1e16, 1.0, -1e16]
    features = [1.0, 1.0, 1.0]
    # A plain left-to-right sum loses the 1.0; compensated summation keeps it.
    plain = 0.0
    for weight, feature in zip(weights, features, strict=True):
        plain += weight * feature
    assert plain == 0.0
    assert _native.dot(weights, features) == math.fsum(weights) == 1.0


def test_dot_rejects_different_lengths() -> None:
    with pytest.raises(ValueError, match="expected 2 features, got 1"):
        _native.dot([1.0, 2.0], [1.0])


def test_dot_rejects_non_numbers() -> None:
    with pytest.raises(TypeError):
        _native.dot(["a"], [1.0])  # type: ignore[list-item]
