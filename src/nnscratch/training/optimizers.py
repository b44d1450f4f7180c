"""Gradient-descent update rules, each a small class with its rule in the docstring.

Notation: theta is a parameter, g = dL/dtheta its gradient for the current mini-batch, eta the
learning rate, t the step count (from 1). Every rule updates ``Parameter.value`` in place and
keeps its state (velocities, moment estimates) in arrays of the parameter's shape, allocated on
the first step. Each matches the corresponding ``torch.optim`` class with default options, so
PyTorch can serve as a test oracle.

``step(params)`` accepts any list of Parameters: one per layer array, or the network's single
flat parameter, which updates everything in a few vectorised passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core._types import Array
from ..core.layers import Parameter

_SCRATCH = ("tmp", "decayed")  # per-step work arrays, not state worth saving
_FLUSH_EVERY = 32  # steps between flushes of near-subnormal state (see _flush_subnormal)


class Optimizer:
    """Base class: the learning rate, the step counter and per-parameter state."""

    name = "optimizer"

    def __init__(self, learning_rate: float = 0.01, weight_decay: float = 0.0) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")
        if not (weight_decay >= 0 and math.isfinite(weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.iterations = 0
        self._state: list[dict[str, Array]] = []
        self._consume_grads = False

    # -- state -------------------------------------------------------------------------------
    def _slots(self, params: list[Parameter], *names: str) -> list[dict[str, Array]]:
        """Per-parameter state arrays, created as zeros on first use (plus a scratch buffer)."""
        if len(self._state) != len(params) or any(
            st["tmp"].shape != p.value.shape for st, p in zip(self._state, params, strict=True)
        ):
            self._state = [
                {name: np.zeros_like(p.value) for name in (*names, "tmp")} for p in params
            ]
        return self._state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where training stopped."""
        arrays = {
            f"{i}.{key}": value
            for i, slot in enumerate(self._state)
            for key, value in slot.items()
            if key not in _SCRATCH
        }
        return {"config": self.config(), "iterations": self.iterations, "arrays": arrays}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.iterations = int(state["iterations"])
        arrays = state["arrays"]
        count = 1 + max((int(k.split(".")[0]) for k in arrays), default=-1)
        self._state = []
        for i in range(count):
            slot = {
                k.split(".", 1)[1]: np.array(v)
                for k, v in arrays.items()
                if k.split(".")[0] == str(i)
            }
            slot["tmp"] = np.zeros_like(next(iter(slot.values())))
            self._state.append(slot)

    def config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    # -- update ------------------------------------------------------------------------------
    def step(self, params: list[Parameter], *, consume_grads: bool = False) -> None:
        """Apply one update to every parameter from its current ``grad``.

        ``consume_grads=True`` lets a rule use the gradient arrays as scratch space, so that
        ``grad`` holds no meaningful value afterwards. A training loop whose next backward pass
        overwrites every gradient anyway passes it: Adam then touches four arrays per
        parameter instead of five, which is measurably faster once they outgrow the cache.
        """
        self.iterations += 1
        self._consume_grads = bool(consume_grads)  # read by _update; set anew by every step
        self._update(params)
        if self.iterations % _FLUSH_EVERY == 0:
            self._flush_subnormal()

    def _flush_subnormal(self) -> None:
        """Set decaying state entries that approach the subnormal range to exactly 0.

        A moment whose gradient is (nearly) always 0, such as that of a weight from an MNIST
        border pixel, shrinks geometrically (m <- 0.9 m) into the subnormal floats, on which
        x86 arithmetic is about 100x slower: in MNIST training 5-7% of Adam's m ends up there
        and doubles the cost of a step. Entries below 1e8 x the smallest normal float change
        any update by less than 1e-22, so zeroing them every 32 steps changes nothing
        measurable and keeps every value out of the slow range.
        """
        for slot in self._state:
            for key, arr in slot.items():
                if key in _SCRATCH:
                    continue
                limit = np.finfo(arr.dtype).tiny * 1e8
                np.abs(arr, out=slot["tmp"])
                np.copyto(arr, 0, where=slot["tmp"] < limit)

    def _update(self, params: list[Parameter]) -> None:
        raise NotImplementedError

    def _grad_with_l2(self, p: Parameter, slot: dict[str, Array]) -> Array:
        """g + weight_decay * theta (coupled L2, as torch's SGD/Adam ``weight_decay``)."""
        if not self.weight_decay:
            return p.grad
        decayed = slot.get("decayed")
        if decayed is None:
            decayed = slot["decayed"] = np.empty_like(p.value)
        np.multiply(p.value, self.weight_decay, out=decayed)
        decayed += p.grad
        return decayed


class SGD(Optimizer):
    """Plain (mini-batch) gradient descent: theta <- theta - eta g.

    ``weight_decay`` lambda adds lambda theta to g (coupled L2, torch's convention).
    """

    name = "sgd"

    def _update(self, params: list[Parameter]) -> None:
        for p, st in zip(params, self._slots(params), strict=True):
            g = self._grad_with_l2(p, st)
            np.multiply(g, self.learning_rate, out=st["tmp"])
            p.value -= st["tmp"]


class Momentum(SGD):
    """Gradient descent with momentum (heavy ball), in PyTorch's form:

        v <- mu v + g;   theta <- theta - eta v          (classic)
        v <- mu v + g;   theta <- theta - eta (g + mu v) (Nesterov: look ahead along v)

    The velocity v accumulates past gradients, damping oscillation across a valley and speeding
    progress along it; mu is the "friction" (0.9 by default).
    """

    name = "momentum"

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, params: list[Parameter]) -> None:
        lr, mu = self.learning_rate, self.momentum
        first = self.iterations == 1
        for p, st in zip(params, self._slots(params, "velocity"), strict=True):
            g = self._grad_with_l2(p, st)
            v, tmp = st["velocity"], st["tmp"]
            if first:  # torch starts v at g, i.e. mu * 0 + g
                np.copyto(v, g)
            else:
                v *= mu
                v += g
            if self.nesterov:  # theta -= eta g, then theta -= eta mu v
                np.multiply(g, lr, out=tmp)
                p.value -= tmp
                np.multiply(v, lr * mu, out=tmp)
            else:
                np.multiply(v, lr, out=tmp)
            p.value -= tmp

    def config(self) -> dict[str, Any]:
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Nesterov(Momentum):
    """Nesterov accelerated gradient: ``Momentum(nesterov=True)``."""

    name = "nesterov"

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        nesterov: bool = True,
    ) -> None:
        super().__init__(learning_rate, momentum, True, weight_decay)


class AdaGrad(Optimizer):
    """AdaGrad: per-coordinate rates shrinking with the gradient history.

    s <- s + g^2;   theta <- theta - eta g / (sqrt(s) + eps)
    """

    name = "adagrad"

    def __init__(
        self, learning_rate: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        self.eps = _positive(eps, "eps")

    def _update(self, params: list[Parameter]) -> None:
        for p, st in zip(params, self._slots(params, "sum_sq"), strict=True):
            g = self._grad_with_l2(p, st)
            s, tmp = st["sum_sq"], st["tmp"]
            np.multiply(g, g, out=tmp)
            s += tmp
            _adaptive_step(p.value, g, s, self.eps, self.learning_rate, tmp)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "eps": self.eps}


class RMSProp(Optimizer):
    """RMSProp: a running average of g^2 instead of AdaGrad's ever-growing sum.

    s <- rho s + (1 - rho) g^2;   theta <- theta - eta g / (sqrt(s) + eps)
    """

    name = "rmsprop"

    def __init__(
        self,
        learning_rate: float = 0.01,
        rho: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        self.rho = float(rho)
        self.eps = _positive(eps, "eps")

    def _update(self, params: list[Parameter]) -> None:
        rho = self.rho
        for p, st in zip(params, self._slots(params, "mean_sq"), strict=True):
            g = self._grad_with_l2(p, st)
            s, tmp = st["mean_sq"], st["tmp"]
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - rho
            s *= rho
            s += tmp
            _adaptive_step(p.value, g, s, self.eps, self.learning_rate, tmp)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "rho": self.rho, "eps": self.eps}


class Adam(Optimizer):
    """Adam (Kingma & Ba): momentum on g and an RMSProp scale, both bias-corrected.

        m <- beta1 m + (1 - beta1) g          (first moment)
        v <- beta2 v + (1 - beta2) g^2        (second moment)
        m^ = m / (1 - beta1^t),  v^ = v / (1 - beta2^t)   (bias correction: m, v start at 0)
        theta <- theta - eta m^ / (sqrt(v^) + eps)

    ``weight_decay`` adds lambda theta to g (coupled L2, as torch's Adam); use ``AdamW`` for the
    decoupled form. The saved state holds m / (1 - beta1) and v / (1 - beta2) (see ``_update``).
    """

    name = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        for value, label in ((beta1, "beta1"), (beta2, "beta2")):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {value!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = _positive(eps, "eps")

    def _decay(self, p: Parameter) -> None:
        """Hook for AdamW's decoupled decay; Adam itself decays through the gradient."""

    def _update(self, params: list[Parameter]) -> None:
        b1, b2, t = self.beta1, self.beta2, self.iterations
        # Speed: the moments are stored pre-scaled, m_s = m / (1 - beta1) and
        # v_s = v / (1 - beta2), so their updates need no multiply by (1 - beta):
        #     m_s <- beta1 m_s + g,   v_s <- beta2 v_s + g^2
        # and the step theta -= eta m^ / (sqrt(v^) + eps) becomes
        #     theta -= (c_m / c_v) m_s / (sqrt(v_s) + eps / c_v)
        # with c_m = eta (1 - beta1) / (1 - beta1^t), c_v = sqrt((1 - beta2) / (1 - beta2^t)).
        # Same result, 10 passes over memory instead of 13.
        c_m = self.learning_rate * (1.0 - b1) / (1.0 - b1**t)
        c_v = math.sqrt((1.0 - b2) / (1.0 - b2**t))
        for p, st in zip(params, self._slots(params, "m", "v"), strict=True):
            m, v = st["m"], st["v"]
            self._decay(p)
            g = self._grad_with_l2(p, st)
            # g is not read after g^2 is formed, so a consumable gradient can hold g^2 and
            # then the step itself: one array fewer to stream through the cache
            tmp = g if self._consume_grads else st["tmp"]
            m *= b1
            m += g
            np.multiply(g, g, out=tmp)
            v *= b2
            v += tmp
            _adaptive_step(p.value, m, v, self.eps / c_v, c_m / c_v, tmp)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay.

        theta <- theta (1 - eta lambda), then the Adam step on the loss gradient alone.

    Unlike L2 added to g, the decay is not rescaled by Adam's per-coordinate step size.
    The default lambda is 0.01, as in torch.
    """

    name = "adamw"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(learning_rate, beta1, beta2, eps, weight_decay)

    def _decay(self, p: Parameter) -> None:
        if self.weight_decay:
            p.value *= 1.0 - self.learning_rate * self.weight_decay

    def _grad_with_l2(self, p: Parameter, slot: dict[str, Array]) -> Array:
        return p.grad


def _adaptive_step(
    theta: Array, numerator: Array, second_moment: Array, eps: float, rate: float, tmp: Array
) -> None:
    """theta <- theta - rate * numerator / (sqrt(second_moment) + eps), in place, with ``tmp`` as
    the only scratch array: the step shared by AdaGrad, RMSProp and Adam."""
    np.sqrt(second_moment, out=tmp)
    tmp += eps
    np.divide(numerator, tmp, out=tmp)
    tmp *= rate
    theta -= tmp


def _positive(value: float, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW)
}


def get_optimizer(spec: str | Optimizer, **kwargs: Any) -> Optimizer:
    """A name (``"adam"``) with keyword arguments, or an Optimizer instance."""
    if isinstance(spec, Optimizer):
        if kwargs:
            raise ValueError("keyword arguments are only accepted with an optimizer name")
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        key = {"gd": "sgd", "gradient_descent": "sgd"}.get(key, key)
        if key not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {spec!r}; expected one of {sorted(OPTIMIZERS)}")
        return OPTIMIZERS[key](**kwargs)
    raise TypeError(f"optimizer must be a name or an Optimizer, got {type(spec).__name__}")


def optimizer_from_config(name: str, config: Mapping[str, Any]) -> Optimizer:
    return get_optimizer(name, **config)
