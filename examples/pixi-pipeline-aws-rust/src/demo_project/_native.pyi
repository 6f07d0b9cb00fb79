"""Types of the compiled extension module, built from src/lib.rs."""

from collections.abc import Sequence

def dot(weights: Sequence[float], features: Sequence[float]) -> float:
    """Dot product of two equally long sequences of floats, with compensated summation.

    Raises ValueError when the lengths differ.
    """
