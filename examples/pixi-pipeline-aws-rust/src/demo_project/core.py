"""Core logic: feature scaling and a small linear model.

Replace the model with your own; keep the typed, side-effect-free functions here so that
the pipeline entry point stays thin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from demo_project._native import dot

if TYPE_CHECKING:
    from collections.abc import Sequence


def standardize(values: Sequence[float]) -> list[float]:
    """Scale values to zero mean and unit variance.

    Constant input has no spread to scale by and maps to zeros.
    """
    if not values:
        return []
    mean = math.fsum(values) / len(values)
    variance = math.fsum((value - mean) ** 2 for value in values) / len(values)
    if variance == 0:
        return [0.0] * len(values)
    spread = math.sqrt(variance)
    return [(value - mean) / spread for value in values]


@dataclass(frozen=True)
class LinearModel:
    """A linear model: ``bias + sum(weight * feature)``."""

    weights: tuple[float, ...]
    bias: float = 0.0

    @property
    def n_features(self) -> int:
        """Number of features the model expects."""
        return len(self.weights)

    def predict(self, features: Sequence[float]) -> float:
        """Predict one value from one row of features."""
        if len(features) != self.n_features:
            msg = f"expected {self.n_features} features, got {len(features)}"
            raise ValueError(msg)
        # The compiled extension (src/lib.rs) computes the dot product.
        return self.bias + dot(self.weights, features)


DEFAULT_MODEL = LinearModel(weights=(0.5, -0.25, 1.0), bias=0.1)
