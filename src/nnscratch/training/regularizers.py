"""Penalties on the weights, added to the cost (seed 002, Nielsen ch. 3).

Both are written in Nielsen's form, scaled by the size n of the training set so that lambda
means the same whatever the mini-batch size:

    L2:  C = C0 + lambda/(2n) sum w^2     dC/dw = dC0/dw + (lambda/n) w
    L1:  C = C0 + lambda/n sum |w|        dC/dw = dC0/dw + (lambda/n) sign(w)

Only weights are penalised, never biases (a large bias does not make a network sensitive to
its inputs). With plain gradient descent the L2 term is the "weight decay" factor
(1 - eta lambda / n) applied to every weight at each step.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.layers import Parameter


class Regularizer:
    name = "regularizer"

    def __init__(self, lam: float) -> None:
        if not (lam >= 0 and math.isfinite(lam)):
            raise ValueError(
                f"regularization strength lambda must be a finite number >= 0, got {lam!r}"
            )
        self.lam = float(lam)

    def penalty(self, params: list[Parameter], n: int) -> float:
        raise NotImplementedError

    def add_gradient(self, params: list[Parameter], n: int) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.lam!r})"


class L2(Regularizer):
    """lambda/(2n) sum w^2; adds (lambda/n) w to each weight's gradient."""

    name = "l2"

    def penalty(self, params: list[Parameter], n: int) -> float:
        return (
            self.lam
            / (2 * n)
            * sum(float(np.vdot(p.value, p.value)) for p in params if p.kind == "weight")
        )

    def add_gradient(self, params: list[Parameter], n: int) -> None:
        scale = self.lam / n
        for p in params:
            if p.kind == "weight":
                p.grad += scale * p.value


class L1(Regularizer):
    """lambda/n sum |w|; adds (lambda/n) sign(w) to each weight's gradient, pushing small weights
    to exactly zero (sparse networks) where L2 only shrinks them proportionally."""

    name = "l1"

    def penalty(self, params: list[Parameter], n: int) -> float:
        return (
            self.lam / n * sum(float(np.abs(p.value).sum()) for p in params if p.kind == "weight")
        )

    def add_gradient(self, params: list[Parameter], n: int) -> None:
        scale = self.lam / n
        for p in params:
            if p.kind == "weight":
                p.grad += scale * np.sign(p.value)


def apply_max_norm(params: list[Parameter], max_norm: float) -> None:
    """Max-norm constraint: rescale each unit's incoming weight vector whose Euclidean norm
    exceeds ``max_norm`` back onto the ball of that radius (w <- w * max_norm / ||w||).
    Applied after every update; often paired with dropout (Srivastava et al., 2014).

    A unit's incoming weights are a column of a dense layer's W (n_in x n_out), and for a
    convolution's kernel W (F x C x kh x kw) the C*kh*kw weights of one output channel f,
    W[f] (Keras's ``max_norm`` over the axes (in, kh, kw)): every value of the feature map f
    is computed from that one filter, so it is the filter's norm that bounds the map. Weights
    of other ranks (user-defined layers) are left as they are."""
    for p in params:
        if p.kind != "weight":
            continue
        if p.value.ndim == 2:
            norms = np.sqrt(np.einsum("ij,ij->j", p.value, p.value))
            too_long = norms > max_norm
            if too_long.any():
                p.value[:, too_long] *= (max_norm / norms[too_long]).astype(p.value.dtype)
        elif p.value.ndim == 4:
            filters = p.value.reshape(p.value.shape[0], -1)  # a view: F x (C*kh*kw)
            norms = np.sqrt(np.einsum("ij,ij->i", filters, filters))
            too_long = norms > max_norm
            if too_long.any():
                p.value[too_long] *= (max_norm / norms[too_long]).astype(p.value.dtype)[
                    :, None, None, None
                ]
