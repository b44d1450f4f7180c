"""Argument checks shared by the dataset modules, with messages that say what was expected.

Every check raises ``ValueError``, also for arguments of the wrong type (a float where a
count is needed), so callers have one exception type to handle for bad arguments.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import cast

import numpy as np
import numpy.typing as npt

__all__ = ["as_rng", "check_count", "check_nonnegative", "check_positive", "float_dtype"]


def check_count(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``, else raise.

    Floats such as ``10.0`` are rejected rather than truncated, because a float count
    usually means a computation went wrong upstream (e.g. ``n / 2`` instead of ``n // 2``).
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    number = operator.index(value)
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def _check_real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def check_nonnegative(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise."""
    number = _check_real(value, name)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {number}")
    return number


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise."""
    number = _check_real(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {number}")
    return number


def as_rng(seed: int | np.random.Generator | None, name: str = "seed") -> np.random.Generator:
    """Turn a seed into a Generator; a Generator passed in is used (and advanced) as is.

    Accepting a Generator lets callers thread one random stream through several calls,
    e.g. a different but reproducible shuffle per epoch.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise ValueError(
            f"{name} must be an int, a numpy.random.Generator or None, "
            f"got {type(seed).__name__} {seed!r}"
        )
    if operator.index(seed) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return np.random.default_rng(operator.index(seed))


def float_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a NumPy floating dtype, or raise naming the accepted ones."""
    try:
        # any object: what np.dtype cannot read raises TypeError, reported below
        result = np.dtype(cast(npt.DTypeLike, dtype))
    except TypeError as exc:
        raise ValueError(f"{name} must be a NumPy floating type, got {dtype!r}") from exc
    if result.kind != "f":
        raise ValueError(
            f"{name} must be a floating type such as np.float32 or np.float64, got {result}"
        )
    return result
