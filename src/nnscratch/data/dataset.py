"""The container returned by the dataset loaders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test arrays of one dataset, plus where they came from.

    Access the parts by attribute (``ds.x_train``, ``ds.y_test``, ...), as pairs
    (``ds.train``, ``ds.val``, ``ds.test``), or by unpacking, which yields the three pairs
    in the order of Nielsen's ``load_data``::

        (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_mnist(validation_size=10000)

    A part that was not requested (e.g. no validation split) is an *empty* array with the
    right trailing shape rather than ``None``, so code can use ``len(ds.x_val)`` and
    concatenate without special cases. Arrays may be views of a larger buffer (the
    validation split is a slice of the training data, not a copy).

    ``name`` identifies the dataset (``"mnist"``, ``"mnist-sample"``, ...); ``source``
    says where the data was read from, which matters when debugging "which copy did I
    load?"; ``class_names`` maps label values to readable names.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = ""
    source: str = ""
    class_names: tuple[str, ...] = field(default=())

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x_val, self.y_val

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x_test, self.y_test

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def nbytes(self) -> int:
        """Bytes held by the six arrays (views of one buffer are not double-counted)."""
        seen: dict[int, int] = {}
        for array in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            base = array
            while isinstance(base.base, np.ndarray):
                base = base.base
            seen[id(base)] = base.nbytes
        return sum(seen.values())

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield self.train
        yield self.val
        yield self.test

    def __repr__(self) -> str:
        def part(x: np.ndarray, y: np.ndarray) -> str:
            return f"x{tuple(x.shape)} {x.dtype}, y{tuple(y.shape)} {y.dtype}"

        return (
            f"Dataset(name={self.name!r}, train=[{part(*self.train)}], "
            f"val=[{part(*self.val)}], test=[{part(*self.test)}], source={self.source!r})"
        )
