"""Batch normalization (Ioffe & Szegedy, 2015), for rows of features and for images."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._types import Array
from .base import Layer, Parameter, Shape, register_layer


@register_layer("BatchNorm")
class BatchNorm(Layer):
    """Batch normalization over the batch axis, per feature or per channel.

    For rows of features (N x F) the statistics are taken per feature over the N rows; for
    images (N x C x H x W) per channel over the N*H*W values of that channel, as PyTorch's
    ``BatchNorm2d`` does (any per-sample shape (C, ...) is normalised per its first axis).
    With m the number of values each statistic is taken over (N, or N*H*W):

    training:  mu, var = mean and (biased) variance over those m values
               X^ = (X - mu) / sqrt(var + eps);   A = gamma X^ + beta
               running_mean <- momentum running_mean + (1 - momentum) mu
               running_var  <- momentum running_var  + (1 - momentum) var m / (m - 1)
    inference: the running statistics replace the batch's.

    The running variance is the unbiased estimate (m / (m - 1) times the batch's), as in
    PyTorch and the original paper. ``momentum`` is the fraction of the running statistics
    *kept* at each step (Keras's meaning); PyTorch's ``momentum`` is the fraction *replaced*, so
    ``BatchNorm(momentum=0.9)`` here behaves as ``torch.nn.BatchNorm1d(momentum=0.1)``
    (torch momentum = 1 - ours).

    Backward (per feature or channel, sums over its m values):
        dL/dgamma = sum(G X^),  dL/dbeta = sum(G)
        after a training forward (mu and var are functions of X):
            dL/dX = gamma / (m sqrt(var + eps)) * (m G - sum(G) - X^ sum(G X^))
        after an inference forward (the running statistics are constants, so the layer is the
        affine map A = gamma (X - running_mean) / sqrt(running_var + eps) + beta):
            dL/dX = gamma / sqrt(running_var + eps) * G
    The inference-mode backward is the exact derivative of the function ``predict``
    computes; it moves no running statistic and draws nothing, so gradients of a trained
    model (saliency, per-layer gradient norms, fine-tuning with frozen statistics) leave the
    model as it was, and, each row's output depending on that row alone, the gradient of a
    batch is the sum of its parts' gradients.
    """

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1), got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"BatchNorm eps must be > 0, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.gamma: Parameter | None = None
        self.beta: Parameter | None = None
        self.running_mean: Array | None = None
        self.running_var: Array | None = None
        # after a training forward: (X^, 1/sqrt(var + eps), None); after an inference one:
        # (X, 1/sqrt(running_var + eps), running_mean), X^ recomputed by the backward pass
        # rather than kept, so an inference pass holds no array the size of the batch
        self._cache: tuple[Array, Array, Array | None] | None = None

    def weight_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        c = (input_shape[0],)
        return {"gamma": c, "beta": c, "running_mean": c, "running_var": c}

    def build(
        self, input_shape: int | Shape, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> None:
        super().build(input_shape, rng, dtype)
        channels = self.built_shapes()[0][0]
        ones = np.ones(channels, dtype=self.dtype)
        zeros = np.zeros(channels, dtype=self.dtype)
        self.gamma = Parameter("gamma", ones.copy(), zeros.copy(), "bias")
        self.beta = Parameter("beta", zeros.copy(), zeros.copy(), "bias")
        self.running_mean = zeros.copy()
        self.running_var = ones.copy()

    def _built(self) -> tuple[Parameter, Parameter, Array, Array]:
        """(gamma, beta, running mean, running variance), or a RuntimeError before ``build``."""
        if (
            self.gamma is None
            or self.beta is None
            or self.running_mean is None
            or self.running_var is None
        ):
            raise RuntimeError(
                f"{self.describe()} is not built yet: call build(input_shape, rng) first"
            )
        return self.gamma, self.beta, self.running_mean, self.running_var

    def parameters(self) -> list[Parameter]:
        if self.gamma is None or self.beta is None:
            return []
        return [self.gamma, self.beta]

    def state(self) -> dict[str, Array]:
        if self.running_mean is None or self.running_var is None:
            return {}  # not built: nothing to save yet, as ``parameters`` is empty
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    @staticmethod
    def _axes(x: Array) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The axes a statistic is taken over (all but the channel axis 1), and the shape that
        broadcasts a per-channel vector against a sample: (C,) for rows, (C, 1, 1) for images."""
        return (0, *range(2, x.ndim)), (-1,) + (1,) * (x.ndim - 2)

    def forward(self, x: Array, training: bool = False) -> Array:
        gamma, beta, running_mean, running_var = self._built()
        axes, per_channel = self._axes(x)
        if training:
            m = x.size // x.shape[1]
            if m < 2:
                raise ValueError(
                    f"{self.describe()} needs at least 2 samples per training batch to estimate "
                    f"a variance, got a batch of shape {x.shape}"
                )
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            k = self.momentum
            # in place: these names are the layer's own arrays, so the layer sees the update
            running_mean *= k
            running_mean += (1 - k) * mean
            running_var *= k
            running_var += ((1 - k) * m / (m - 1)) * var
        else:
            mean, var = running_mean, running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)
        # a copy of the running mean: a later training forward moves it in place
        self._cache = (x_hat, inv_std, None) if training else (x, inv_std, mean.copy())
        out: Array = x_hat * gamma.value.reshape(per_channel) + beta.value.reshape(per_channel)
        return out

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        gamma, beta, _, _ = self._built()
        x_hat, inv_std, running_mean = self._cache
        g = grad_output
        axes, per_channel = self._axes(g)
        if running_mean is not None:
            return self._backward_inference(g, x_hat, inv_std, running_mean, need_input_grad)
        m = g.size // g.shape[1]
        sum_g = g.sum(axis=axes)
        sum_g_xhat = (g * x_hat).sum(axis=axes)
        gamma.grad[...] = sum_g_xhat
        beta.grad[...] = sum_g
        if not need_input_grad:
            return None
        scale = (gamma.value * inv_std / m).reshape(per_channel)
        grad_x: Array = scale * (
            m * g - sum_g.reshape(per_channel) - x_hat * sum_g_xhat.reshape(per_channel)
        )
        return grad_x

    def _backward_inference(
        self, g: Array, x: Array, inv_std: Array, mean: Array, need_input_grad: bool
    ) -> Array | None:
        """The backward pass of the affine map an inference forward applied to ``x``:
        dL/dgamma = sum(G X^), dL/dbeta = sum(G), dL/dX = gamma / sqrt(running_var + eps) G."""
        gamma, beta, _, _ = self._built()
        axes, per_channel = self._axes(g)
        x_hat = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)
        gamma.grad[...] = (g * x_hat).sum(axis=axes)
        beta.grad[...] = g.sum(axis=axes)
        if not need_input_grad:
            return None
        grad_x: Array = (gamma.value * inv_std).reshape(per_channel) * g
        return grad_x

    def config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps, "name": self.name}

    def describe(self) -> str:
        return "BatchNorm"
