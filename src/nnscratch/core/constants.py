"""Read-only constant vectors, cached, for the hot paths that multiply or compare with them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._types import Array, FloatDType

_VECTORS: dict[tuple[float, FloatDType], Array] = {}


def constant_vector(value: float, n: int, dtype: npt.DTypeLike) -> Array:
    """A read-only vector of ``n`` copies of ``value``: a view of one cached vector per
    (value, dtype), grown when a longer one is asked for, so a training step allocates none."""
    key = (float(value), np.dtype(dtype))
    vector = _VECTORS.get(key)
    if vector is None or len(vector) < n:
        vector = np.full(max(n, 1024), value, dtype=key[1])
        vector.flags.writeable = False
        _VECTORS[key] = vector
    return vector[:n]
