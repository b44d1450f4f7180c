"""Input checks shared by layers, networks and losses.

Bad input must fail early with a ValueError that names the argument, where it went and the
shapes involved, instead of surfacing as a broadcasting surprise or a NaN deep inside NumPy.
"""

from __future__ import annotations

import numpy as np

from ._types import Array


def as_float_array(x: object, name: str, dtype: np.dtype | type | None = None) -> Array:
    """``np.asarray`` that refuses non-numeric data with a readable message."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be turned into a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def check_finite(x: Array, name: str, where: str = "") -> None:
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        place = f" passed to {where}" if where else ""
        raise ValueError(
            f"{name}{place} contains {bad} NaN or infinite value(s); clean the data first"
        )


def cast_checked(arr: Array, dtype: np.dtype | type, name: str, where: str) -> Array:
    """``arr`` cast to ``dtype``, refusing finite values beyond ``dtype``'s range.

    A float64 value above float32's largest number (about 3.4e38) would become inf in the cast
    and then pass for a divergence or a NaN in the data; it is named as what it is instead.
    """
    dtype = np.dtype(dtype)
    if arr.dtype == dtype:
        return arr
    with np.errstate(over="ignore"):
        cast = arr.astype(dtype)
    narrowing = arr.dtype.kind == "f" and dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize
    if narrowing and not np.isfinite(cast).all():
        finite = np.isfinite(arr)
        if (finite & ~np.isfinite(cast)).any():
            largest = float(np.max(np.abs(arr[finite])))
            raise ValueError(
                f"{name} passed to {where} holds values up to |{name}| = {largest:.4g}, beyond "
                f"the {dtype.name} range (largest {float(np.finfo(dtype).max):.4g}); rescale "
                f"the data, or compute in float64 (dtype=np.float64)"
            )
    return cast


def check_input(
    x: object,
    width: int | tuple[int, ...] | None,
    where: str,
    dtype: np.dtype | type | None = None,
    name: str = "x",
    finite: bool = True,
) -> Array:
    """Validate a batch of inputs: non-empty, samples of the expected shape, finite; cast to
    ``dtype`` (values beyond ``dtype``'s range are refused, see ``cast_checked``).

    ``width`` is the per-sample shape: an int n (or ``(n,)``) for 2-D rows of n features, a
    tuple such as ``(C, H, W)`` for a batch of images N x C x H x W; ``None`` accepts any width
    of 2-D rows."""
    arr = as_float_array(x, name)
    shape = (width,) if width is None or isinstance(width, (int, np.integer)) else tuple(width)
    if len(shape) > 1:
        _check_image_batch(arr, shape, name, where)
    elif arr.ndim != 2:
        hint = (
            " (a single sample needs shape (1, n_features): use x.reshape(1, -1))"
            if arr.ndim == 1
            else ""
        )
        raise ValueError(
            f"{name} passed to {where} must be 2-D (n_samples, n_features), got shape "
            f"{arr.shape}{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} passed to {where} is an empty batch (shape {arr.shape})")
    if len(shape) == 1 and shape[0] is not None and arr.shape[1] != shape[0]:
        raise ValueError(
            f"{name} passed to {where} has {arr.shape[1]} features per sample (shape {arr.shape}), "
            f"but the layer expects {shape[0]}"
        )
    if finite:
        check_finite(arr, name, where)
    if dtype is not None:
        arr = cast_checked(arr, dtype, name, where)
    return arr


def _check_image_batch(arr: Array, shape: tuple[int, ...], name: str, where: str) -> None:
    """Samples of ``shape`` (C, H, W, ...): the batch must be N x C x H x W."""
    expected = "(n_samples, " + ", ".join(map(str, shape)) + ")"
    if arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
        return
    if arr.ndim == len(shape) + 1 and len(shape) == 3 and arr.shape[2:] == shape[1:]:
        raise ValueError(
            f"{name} passed to {where} has {arr.shape[1]} channels (shape {arr.shape}), but the "
            f"network expects {shape[0]}: a batch of shape {expected}"
        )
    hint = ""
    if arr.ndim == len(shape):
        hint = f" (a single image needs shape (1, {', '.join(map(str, shape))}): use x[None])"
    elif arr.ndim == 2 and arr.shape[1] == int(np.prod(shape)):
        hint = (
            f" (flat rows of {arr.shape[1]} values: use x.reshape(-1, "
            f"{', '.join(map(str, shape))}), or start the network with Reshape)"
        )
    raise ValueError(
        f"{name} passed to {where} must be a batch of shape {expected}, got shape {arr.shape}{hint}"
    )


def check_labels(y: Array, n_classes: int, name: str = "y", where: str = "") -> Array:
    """Integer class labels in [0, n_classes); floats holding whole numbers are accepted."""
    place = f" for {where}" if where else ""
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or np.any(y != np.round(y)):
            raise ValueError(f"{name}{place}: class labels must be whole numbers, got {y[:5]}...")
    elif y.dtype.kind not in "iub":
        raise ValueError(f"{name}{place}: class labels must be integers, got dtype {y.dtype}")
    labels = y.astype(np.intp, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{name}{place}: labels must lie in [0, {n_classes - 1}] for an output of {n_classes} "
            f"classes, got values from {labels.min()} to {labels.max()}"
        )
    return labels


def check_targets(
    target: object,
    output: Array,
    loss_name: str,
    *,
    allow_labels: bool,
    one_hot: bool = True,
    binary: bool = False,
) -> Array:
    """Match ``target`` to ``output`` (N x K) without any silent broadcasting.

    Accepted: an array of exactly output's shape; N values when K == 1 (a column is meant);
    N integer labels in [0, K) when ``allow_labels`` (returned one-hot when ``one_hot``, else as
    integer labels).
    """
    y = as_float_array(target, "y (targets)")
    n, k = output.shape
    where = f"the {loss_name} loss"
    if n == 0:
        raise ValueError(f"empty batch passed to {where}")
    if y.shape[:1] != (n,):
        raise ValueError(
            f"y (targets) for {where} has {y.shape[0] if y.ndim else 0} rows (shape {y.shape}) "
            f"but the network produced {n} outputs (shape {output.shape}): batch sizes differ"
        )
    if y.shape == output.shape:
        check_finite(y, "y (targets)", where)
        if binary and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"y (targets) for {where} must lie in [0, 1], got {y.min()}..{y.max()}"
            )
        return y.astype(output.dtype, copy=False)
    if y.ndim == 1 and k == 1:  # one output unit: N values are that unit's column
        return check_targets(y[:, None], output, loss_name, allow_labels=False, binary=binary)
    if y.ndim == 1 and allow_labels:
        labels = check_labels(y, k, "y (class labels)", where)
        if not one_hot:
            return labels
        encoded = np.zeros(output.shape, dtype=output.dtype)
        encoded[np.arange(n), labels] = 1.0
        return encoded
    expected = f"{output.shape}" + (f" or ({n},) integer class labels" if allow_labels else "")
    raise ValueError(
        f"y (targets) for {where} has shape {y.shape}; expected {expected} to match the "
        f"network output {output.shape}"
    )
