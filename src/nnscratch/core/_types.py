"""Type aliases shared by the package's annotations (one home, so every module means the same)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: Any NumPy array; the dtype is checked at run time (float32 or float64 for the math).
Array = npt.NDArray[Any]

#: A NumPy floating dtype, as ``np.dtype(np.float32)`` or ``np.dtype(np.float64)``.
FloatDType = np.dtype[Any]

__all__ = ["Array", "FloatDType"]
