"""Layers: small classes with ``forward`` and ``backward``, one file per family.

- ``base``: the contract (``Parameter``, ``Layer``, shapes) and the registry that saves layers;
- ``dense``: ``Dense`` (Z = X W + b) and ``ActivationLayer``;
- ``convolution``: ``Conv2D``, on top of ``im2col`` (the im2col / col2im pair);
- ``pooling``: ``MaxPool2D``, ``AvgPool2D``, ``GlobalAvgPool2D``;
- ``normalization``: ``BatchNorm`` (per feature, or per channel for images);
- ``regularization``: ``Dropout``;
- ``shape``: ``Flatten`` and ``Reshape``.

A batch of rows is N x n (the articles' layout); a batch of images is N x C x H x W (PyTorch's
and Saito's). Every layer describes one sample by its shape: ``layer.input_shape`` and
``layer.output_shape`` (``input_dim`` / ``output_dim`` are their sizes).
"""

from ..validation import check_input
from .base import (
    LAYER_TYPES,
    Layer,
    Parameter,
    as_shape,
    layer_config,
    layer_from_config,
    register_layer,
    values_per_sample,
)
from .convolution import Conv2D
from .dense import ActivationLayer, Dense
from .normalization import BatchNorm
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .regularization import Dropout
from .shape import Flatten, Reshape

__all__ = [
    "Parameter",
    "Layer",
    "Dense",
    "ActivationLayer",
    "Dropout",
    "BatchNorm",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "GlobalAvgPool2D",
    "Flatten",
    "Reshape",
    "LAYER_TYPES",
    "as_shape",
    "register_layer",
    "layer_config",
    "layer_from_config",
    "values_per_sample",
    "check_input",
]
