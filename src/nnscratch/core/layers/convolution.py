"""The convolutional layer (Nielsen's chapter 6, Saito's chapter 7), as one matrix product.

A filter f is a C x kh x kw block of weights W[f] and a bias b[f]; its output at position
(p, q) is the dot product of the filter with the window of the zero-padded input that starts
at (p*sh, q*sw), plus the bias:

    Z[n, f, p, q] = b[f] + sum_{c, i, j} W[f, c, i, j] X_pad[n, c, p*sh + i, q*sw + j]

Laying sample n's windows out as the columns of X_col[n] (``im2col``) makes it one matrix
product, Z[n] = W_col X_col[n] + b with W_col = W reshaped to F x (C*kh*kw), and the whole
batch one stacked ``np.matmul``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._types import Array
from ..activations import Activation, Identity, Softmax
from ..constants import constant_vector
from ..initializers import Initializer, default_initializer, get_initializer
from .base import Layer, Parameter, Shape, register_layer, shape_text
from .dense import FusedActivationLayer, bias_initializer, trainable_activation
from .im2col import col2im, im2col, output_size, pad_into

Padding = int | tuple[int, int] | str


def as_pair(value: object, what: str, layer: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (height, width), each at least ``minimum``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in pair
    ):
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(
            f"{layer}: {what} must be {bound} or a pair of them (height, width), got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def check_input_image(layer: Layer, input_shape: Shape) -> tuple[int, int, int]:
    """``input_shape`` as (C, H, W), or a ValueError naming ``layer`` and the shape."""
    if len(input_shape) != 3:
        hint = (
            "; put Reshape((C, H, W)) first to read flat rows as images"
            if len(input_shape) == 1
            else ""
        )
        raise ValueError(
            f"{layer.describe()} takes images of shape (C, H, W) per sample (a batch of "
            f"N x C x H x W), but receives samples of shape {input_shape}{hint}"
        )
    return input_shape


@register_layer("Conv2D")
class Conv2D(FusedActivationLayer):
    """2-D convolution with ``channels`` filters of ``kernel_size``, optionally followed by an
    activation A = f(Z); input channels are found when the network is built.

    Parameters: ``W`` of shape (F, C, kh, kw), the layout of PyTorch and Saito's book, and
    ``b`` of shape (F,) (absent with ``use_bias=False``).

    ``stride``: an int or a pair (sh, sw). ``padding``: zeros added around each image, an int, a
    pair (ph, pw) (ph rows above and below, pw columns left and right), ``"valid"`` (none) or
    ``"same"`` (stride 1 only: output size = input size). For an even kernel "same" needs an odd
    total k - 1 of padding; as in PyTorch, the smaller half (k - 1) // 2 goes above/left and the
    rest below/right.

    Initialization: every initializer draws the kernel as a (C*kh*kw) x F matrix, the layout
    of a dense layer's W (rows = inputs of one output value), then laid out as (F, C, kh, kw);
    so fan-in is C*kh*kw, and fan-out is F*kh*kw, PyTorch's and Keras's convention (Glorot's
    and the "fan_out" modes use it).

    Backward pass, for G = dL/dA (N x F x OH x OW), with X_col[n] the (C*kh*kw) x (OH*OW)
    matrix of sample n's windows (``im2col``) and G[n] = dL/dZ[n] as an F x (OH*OW) matrix:
        dL/dZ = G * f'(Z)                              (the activation's ``backward``)
        dL/dW_col = sum_n dL/dZ[n] X_col[n]^T          (F x C*kh*kw, reshaped to F x C x kh x kw):
                    each weight met every window of every sample, so its gradient sums
                    window value x output gradient over all of them
        dL/db = sum of dL/dZ over n, p and q
        dL/dX_col[n] = W_col^T dL/dZ[n],  dL/dX = col2im(dL/dX_col) without the padding:
                    every input pixel collects the gradient of each window that read it
    """

    keeps_width = False

    def __init__(
        self,
        channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = 0,
        activation: str | Activation | None = None,
        use_bias: bool = True,
        *,
        weight_init: str | Initializer | float | None = None,
        bias_init: str | Initializer | float = 0.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        if (
            isinstance(channels, bool)
            or not isinstance(channels, (int, np.integer))
            or channels < 1
        ):
            raise ValueError(f"Conv2D channels must be a positive integer, got {channels!r}")
        self.channels = int(channels)
        where = f"Conv2D({self.channels})"
        self.kernel_size = as_pair(kernel_size, "kernel_size", where)
        self.stride = as_pair(stride, "stride", where)
        self.padding = _padding_spec(padding, where)
        if self.padding == "same" and self.stride != (1, 1):
            raise ValueError(
                f"{where}: padding='same' needs stride 1 (got stride {self.stride}); give the "
                "padding as numbers for a strided convolution"
            )
        self.activation = trainable_activation(activation, "Conv2D")
        if isinstance(self.activation, Softmax):
            raise ValueError(
                f"{where}: softmax normalises flat rows; use it after Flatten() and a Dense layer"
            )
        if not isinstance(use_bias, (bool, np.bool_)):
            raise ValueError(f"{where}: use_bias must be True or False, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.weight_init = (
            default_initializer(self.activation.name)
            if weight_init is None
            else get_initializer(weight_init)
        )
        self.bias_init = bias_initializer(bias_init)
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        self._x: Array | None = None
        self._z: Array | None = None
        self._a: Array | None = None
        self._cols: Array | None = None
        self._pads = (0, 0, 0, 0)

    # -- shapes ------------------------------------------------------------------------------
    def pads(self) -> tuple[int, int, int, int]:
        """Zeros added (top, bottom, left, right)."""
        kh, kw = self.kernel_size
        if isinstance(self.padding, str):  # "same", the only padding kept as a word
            return ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        c, h, w = check_input_image(self, input_shape)
        return (
            self.channels,
            *window_output(self, (h, w), self.kernel_size, self.stride, self.pads()),
        )

    def scratch_per_sample(self, input_shape: Shape, output_shape: Shape, first: bool) -> int:
        """The im2col matrix (C*kh*kw x OH*OW), the per-sample weight-gradient products
        (F x C*kh*kw), the padded input when there is padding and, except for the first
        layer, the gradient's columns and the padded input gradient."""
        c, h, w = input_shape
        top, bottom, left, right = self.pads()
        padded = c * (h + top + bottom) * (w + left + right)
        window = c * self.kernel_size[0] * self.kernel_size[1]
        positions = output_shape[1] * output_shape[2]
        values = window * positions + self.channels * window
        values += padded if top + bottom + left + right else 0
        if not first:
            values += window * positions + padded
        return values

    def weight_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {"W": (self.channels, input_shape[0], *self.kernel_size)}
        if self.use_bias:
            shapes["b"] = (self.channels,)
        return shapes

    def build(
        self, input_shape: int | Shape, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> None:
        super().build(input_shape, rng, dtype)
        self._pads = self.pads()
        c = self.built_shapes()[0][0]
        kh, kw = self.kernel_size
        fan_in, f = c * kh * kw, self.channels
        w_col = self.weight_init((fan_in, f), rng, self.dtype)
        if (
            hasattr(self.weight_init, "std")
            and getattr(self.weight_init, "fan", "fan_in") != "fan_in"
        ):
            # drawn with fan-out F; a kernel's fan-out is F*kh*kw: rescale the draw
            ratio = self.weight_init.std((fan_in, f * kh * kw)) / self.weight_init.std((fan_in, f))
            w_col *= np.asarray(ratio, dtype=self.dtype)
        w = np.ascontiguousarray(w_col.T).reshape(f, c, kh, kw)
        self.W = Parameter("W", w, np.zeros_like(w), "weight")
        if self.use_bias:
            b = self.bias_init((f,), rng, self.dtype)
            self.b = Parameter("b", b, np.zeros_like(b), "bias")

    def parameters(self) -> list[Parameter]:
        if self.W is None:
            return []
        return [self.W] if self.b is None else [self.W, self.b]

    def _kernel(self) -> Parameter:
        """``W``, or a RuntimeError before ``build``."""
        if self.W is None:
            raise RuntimeError(
                f"{self.describe()} is not built yet: call build(input_shape, rng) first"
            )
        return self.W

    # -- computation -------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        n = x.shape[0]
        weight = self._kernel()
        (c, h, w), (f, oh, ow) = self.built_shapes()
        kh, kw = self.kernel_size
        top, bottom, left, right = self._pads
        if any(self._pads):
            padded = self._buffer("x_pad", (n, c, h + top + bottom, w + left + right), fill=0.0)
            x_pad = pad_into(x, self._pads, padded)
        else:
            x_pad = x
        cols = im2col(
            x_pad,
            self.kernel_size,
            self.stride,
            (oh, ow),
            self._buffer("cols", (n, c * kh * kw, oh * ow)),
        )
        z = self._buffer("z", (n, f, oh, ow))
        # Z[n] = W_col X_col[n] for every n at once, written in the N x F x OH x OW layout
        np.matmul(weight.value.reshape(f, c * kh * kw), cols, out=z.reshape(n, f, oh * ow))
        if self.b is not None:  # set by build exactly when use_bias
            z += self.b.value.reshape(f, 1, 1)
        self._x, self._z, self._cols = x, z, cols
        self._a = self._activate(z)
        return self._a

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        grad_z = self._grad_z(grad_output)
        if self._cols is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        weight = self._kernel()
        n = grad_z.shape[0]
        (c, h, w), (f, oh, ow) = self.built_shapes()
        kh, kw = self.kernel_size
        g = grad_z.reshape(n, f, oh * ow)
        # dL/dW_col = sum over n of G[n] X_col[n]^T: one stacked product, then the sum over n
        per_sample = np.matmul(
            g, self._cols.transpose(0, 2, 1), out=self._buffer("grad_w", (n, f, c * kh * kw))
        )
        np.sum(per_sample, axis=0, out=weight.grad.reshape(f, c * kh * kw))
        if self.b is not None:
            # dL/db = sum of G over n, p, q: G 1 (a product per sample, as BLAS sums fastest),
            # then the sum over n
            per_map = np.matmul(
                g, constant_vector(1.0, oh * ow, self.dtype), out=self._buffer("grad_b", (n, f))
            )
            np.sum(per_map, axis=0, out=self.b.grad)
        if not need_input_grad:
            return None
        # dL/dX_col[n] = W_col^T G[n]; col2im adds each entry back to the pixel it came from
        grad_cols = np.matmul(
            weight.value.reshape(f, c * kh * kw).T,
            g,
            out=self._buffer("grad_cols", (n, c * kh * kw, oh * ow)),
        )
        top, bottom, left, right = self._pads
        grad_pad = self._buffer("grad_x_pad", (n, c, h + top + bottom, w + left + right))
        col2im(grad_cols, self.kernel_size, self.stride, (oh, ow), grad_pad)
        return grad_pad[:, :, top : top + h, left : left + w]

    # -- description -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "activation": self.activation.name,
            "activation_config": self.activation.config(),
            "use_bias": self.use_bias,
            "name": self.name,
        }

    def describe(self) -> str:
        parts = [str(self.channels), shape_text(self.kernel_size)]
        if self.stride != (1, 1):
            parts.append(f"stride {shape_text(self.stride)}")
        if isinstance(self.padding, str):
            parts.append("same")
        elif any(self.padding):
            parts.append(f"pad {shape_text(self.padding)}")
        if not isinstance(self.activation, Identity):
            parts.append(self.activation.name)
        return f"Conv2D({', '.join(parts)})"


def _padding_spec(padding: object, where: str) -> tuple[int, int] | str:
    """The padding as given: "same", or (ph, pw); "valid" is (0, 0)."""
    if isinstance(padding, str):
        key = padding.strip().lower()
        if key == "same":
            return "same"
        if key == "valid":
            return (0, 0)
        raise ValueError(
            f"{where}: padding must be 'same', 'valid', an int or a pair, got {padding!r}"
        )
    return as_pair(padding, "padding", where, minimum=0)


def window_output(
    layer: Layer,
    hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
) -> tuple[int, int]:
    """(OH, OW) of a window sliding over an image of ``hw`` padded by ``pads``; a ValueError
    naming the layer when the window does not fit."""
    hp, wp = hw[0] + pads[0] + pads[1], hw[1] + pads[2] + pads[3]
    if kernel[0] > hp or kernel[1] > wp:
        padded = f" (padded to {hp}x{wp})" if any(pads) else ""
        raise ValueError(
            f"{layer.describe()}: the {shape_text(kernel)} window is larger than its "
            f"{hw[0]}x{hw[1]} input{padded}; use a smaller kernel or more padding, or drop a "
            "pooling layer before it"
        )
    # a window that fits gives at least one position: (hp - k) // s + 1 >= 1
    return (output_size(hp, kernel[0], stride[0]), output_size(wp, kernel[1], stride[1]))
