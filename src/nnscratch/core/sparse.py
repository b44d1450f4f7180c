"""Sparse input: SciPy sparse matrices as the rows X of a network whose first layer is ``Dense``.

A TF-IDF or bag-of-words matrix is mostly zeros: 100,000 documents x 50,000 terms at 0.1%
density hold 5 million non-zeros (40 MB as CSR) but would take 20 GB as a dense float32 array.
The first dense layer's product Z = X W + b needs only the non-zeros,

    Z[i, :] = b + sum over the non-zeros x_ij of row i of  x_ij W[j, :],

and so does its weight gradient dL/dW = X^T dL/dZ, whose row j gathers the non-zeros of column
j. Everything after the first layer is dense (Z is N x n_out), so only that layer changes.

The input is kept in CSR form (Compressed Sparse Row: per row, the column indices and values of
its non-zeros), where a batch of rows ``x[idx]`` is a fast gather. CSR is used as it is; any
other SciPy format (CSC, COO, LIL, ...) is converted to CSR once, up front (a copy of the
non-zeros). The values are cast to the network's dtype once, copying only the values, so that
the products never mix float32 and float64.

This module does not import SciPy: a sparse matrix is recognised by the module its type comes
from, and handled through its own methods, so the core still depends on NumPy alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ._types import Array
from .validation import cast_checked

if TYPE_CHECKING:  # only for annotations: nothing beyond NumPy is needed at run time
    from typing_extensions import TypeIs


class SparseRows(Protocol):
    """What the engine uses of a SciPy CSR matrix or array (``csr_matrix`` / ``csr_array``)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def ndim(self) -> int: ...

    @property
    def format(self) -> str: ...

    @property
    def data(self) -> Array: ...

    @property
    def indices(self) -> Array: ...

    @property
    def indptr(self) -> Array: ...

    @property
    def T(self) -> Any: ...  # noqa: N802 (SciPy's name)

    def __matmul__(self, other: Array) -> Array: ...

    def __getitem__(self, key: Any) -> SparseRows: ...

    def tocsr(self) -> SparseRows: ...


def is_sparse(x: object) -> TypeIs[SparseRows]:
    """Whether ``x`` is a SciPy sparse matrix or array (``csr_matrix``, ``csc_array``, ...),
    told by duck typing: a type from ``scipy.sparse`` that converts to CSR. SciPy itself is
    not imported."""
    if isinstance(x, np.ndarray):  # the common case, answered first
        return False
    return type(x).__module__.startswith("scipy.sparse") and hasattr(x, "tocsr")


def check_sparse_input(
    x: SparseRows,
    width: int | tuple[int, ...] | None,
    where: str,
    dtype: np.dtype[Any] | type | None = None,
    name: str = "x",
    finite: bool = True,
) -> SparseRows:
    """Validate a sparse batch as ``validation.check_input`` does a dense one: 2-D, non-empty,
    ``width`` features per row (a per-sample shape of more than one axis, images, is refused:
    sparse rows feed a network that takes flat rows), numeric, finite non-zeros. Returns it as
    CSR with values of ``dtype``: the same object when it is CSR of that dtype already, else a
    CSR whose values (and, for another format, indices) are copied once."""
    shape = (width,) if width is None or isinstance(width, (int, np.integer)) else tuple(width)
    if len(shape) > 1:
        raise ValueError(
            f"{name} passed to {where} is a sparse matrix, but the network takes samples of "
            f"shape {shape}; sparse input needs a network of flat rows whose first layer is Dense"
        )
    if x.ndim != 2:
        raise ValueError(
            f"{name} passed to {where} must be a 2-D sparse matrix (n_samples, n_features), "
            f"got shape {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} passed to {where} is an empty batch (shape {x.shape})")
    if shape[0] is not None and x.shape[1] != shape[0]:
        raise ValueError(
            f"{name} passed to {where} has {x.shape[1]} features per sample (sparse, shape "
            f"{x.shape}), but the layer expects {shape[0]}"
        )
    if x.format != "csr":
        x = x.tocsr()
    values = x.data[: int(x.indptr[-1])]
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} passed to {where} must hold numbers, got a sparse matrix of dtype "
            f"{values.dtype}"
        )
    if finite and values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        raise ValueError(
            f"{name} passed to {where} contains {bad} NaN or infinite value(s) among its "
            f"non-zeros; clean the data first"
        )
    if dtype is not None and values.dtype != np.dtype(dtype):
        cast = cast_checked(values, dtype, name, where)
        # same indices and row pointers, new values: no copy of the structure
        csr: Any = type(x)  # csr_matrix or csr_array, as given
        x = csr((cast, x.indices, x.indptr), shape=x.shape, copy=False)
    return x


def n_rows(x: Array | SparseRows) -> int:
    """The number of samples: ``len`` of an array, the row count of a sparse matrix (whose
    ``len`` SciPy refuses as ambiguous)."""
    return int(x.shape[0])


def sparse_weight_gradient(x: SparseRows, grad_z: Array, out: Array) -> None:
    """dL/dW = X^T G into ``out`` (n_in x n_out), computed from the non-zeros of X (N x n_in).

    Only the columns j of X that hold a non-zero give a non-zero row dL/dW[j, :] =
    sum_i x_ij G[i, :]: X^T is formed as CSR (a transpose of the batch's non-zeros), its
    non-empty rows are kept, and their product with G fills those rows of ``out``; every other
    row is zero. No n_in x n_out temporary is made (SciPy's ``x.T @ G`` would allocate one).
    """
    xt = x.T.tocsr()  # n_in x N
    used = np.flatnonzero(np.diff(xt.indptr))
    out.fill(0)
    if used.size:
        out[used] = xt[used] @ grad_z


__all__ = ["SparseRows", "check_sparse_input", "is_sparse", "n_rows", "sparse_weight_gradient"]
