"""Datasets for nnscratch: MNIST / Fashion-MNIST loading, toy problems, preprocessing.

Only NumPy and the standard library are used (tqdm, if installed, draws download
progress bars). Typical use::

    from nnscratch.data import load_mnist, iterate_minibatches

    ds = load_mnist(normalize=True, validation_size=10000)   # Nielsen's 50k/10k split
    for xb, yb in iterate_minibatches(ds.x_train, ds.y_train, 64, seed=0):
        ...

``nnscratch.data.augment`` draws random shifts, rotations and affine jitter of image batches,
on the fly in ``Model.fit(augment=RandomShift(1, image_shape=(28, 28)))``.

``load_mnist_sample()`` loads a 6,000-image subset shipped with the package, for tests,
examples and offline work. All errors derive from :class:`DataError`.
"""

from __future__ import annotations

from .augment import Augmenter, Compose, RandomAffine, RandomRotation, RandomShift
from .dataset import Dataset
from .download import download_file
from .errors import (
    ChecksumError,
    DataError,
    DatasetNotFoundError,
    DownloadError,
    IDXFormatError,
    InsufficientMemoryError,
    InvalidDatasetError,
    NotFittedError,
)
from .idx import IDXHeader, idx_sha256, read_idx, read_idx_header, write_idx
from .mnist import (
    FASHION_MNIST_SHA256,
    MNIST_SHA256,
    data_cache_dir,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
)
from .preprocessing import (
    MinMaxScaler,
    Standardizer,
    augment_mnist,
    expand_mnist,
    iterate_minibatches,
    one_hot,
    rotate_images,
    shift_images,
    train_val_split,
)
from .registry import DATASET_NAMES, load_dataset
from .toy import (
    blobs,
    circles,
    five_clusters,
    moons,
    noisy_sine,
    spirals,
    truth_table,
    xor,
)

__all__ = [
    "DATASET_NAMES",
    "Augmenter",
    "Compose",
    "FASHION_MNIST_SHA256",
    "MNIST_SHA256",
    "ChecksumError",
    "DataError",
    "Dataset",
    "DatasetNotFoundError",
    "DownloadError",
    "IDXFormatError",
    "IDXHeader",
    "InsufficientMemoryError",
    "InvalidDatasetError",
    "MinMaxScaler",
    "NotFittedError",
    "RandomAffine",
    "RandomRotation",
    "RandomShift",
    "Standardizer",
    "augment_mnist",
    "blobs",
    "circles",
    "data_cache_dir",
    "download_file",
    "expand_mnist",
    "five_clusters",
    "idx_sha256",
    "iterate_minibatches",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_sample",
    "moons",
    "noisy_sine",
    "one_hot",
    "read_idx",
    "read_idx_header",
    "rotate_images",
    "shift_images",
    "spirals",
    "train_val_split",
    "truth_table",
    "write_idx",
    "xor",
]
