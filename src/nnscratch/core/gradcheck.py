"""Gradient checking: compare backpropagation with finite differences.

For each parameter entry theta_i the central difference
    dL/dtheta_i ~ (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)
has error O(eps^2); in float64 with eps ~ 1e-6 it agrees with a correct analytic gradient to
about 1e-8 relative. The relative error of an entry, analytic a against numeric n, is

    |a - n| / max(|a| + |n|, noise / tolerance)

where noise = 10 * machine-eps * max(1, |L|) / eps is the rounding noise of the finite
difference itself. For gradients well above the noise this is the plain |a - n| / (|a| + |n|);
for gradients near zero the denominator stops at the size where a difference as large as the
noise would just reach the tolerance, so entries whose gradient is zero do not blow it up and a
difference within the noise always passes. The number reported is still the measured one, tiny
but not zero for a correct network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._types import Array
from .layers import Dropout
from .losses import Loss, get_loss
from .network import Sequential
from .validation import check_input


@dataclass
class GradientCheckResult:
    """Worst relative error per parameter (``errors``, as defined in the module docstring), the
    overall worst, the tolerance it passes below, and the largest absolute difference per
    parameter (``abs_differences``)."""

    errors: dict[str, float]
    max_error: float
    tolerance: float
    abs_differences: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tolerance

    def __str__(self) -> str:
        lines = [
            f"{name:>12}: relative {err:.2e}   largest difference {self.abs_differences.get(name, 0.0):.1e}"
            for name, err in self.errors.items()
        ]
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(
            f"worst relative error {self.max_error:.2e} (tolerance {self.tolerance:.0e}): {verdict}"
        )
        return "\n".join(lines)


def gradient_check(
    network: Sequential,
    x: Array,
    y: Array,
    loss: str | Loss = "mse",
    *,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradientCheckResult:
    """Check ``network``'s backward pass on (x, y) against central finite differences.

    The check runs on a float64 copy of the network, so the original is untouched whatever its
    dtype. ``max_entries`` limits how many entries of each parameter are probed (chosen at
    random with ``seed``); ``None`` probes them all. Dropout layers must be absent or rate 0,
    since a random mask changes between the perturbed evaluations.
    """
    loss = get_loss(loss)
    if not (np.isfinite(eps) and eps > 0 and np.isfinite(tolerance) and tolerance > 0):
        raise ValueError(
            f"eps and tolerance must be finite numbers > 0, got eps={eps}, tolerance={tolerance}"
        )
    if any(isinstance(layer, Dropout) and layer.rate > 0 for layer in network.layers):
        raise ValueError(
            "gradient_check cannot check a network with active Dropout: the random mask changes "
            "between evaluations; check a copy with rate 0"
        )
    net = network.astype(np.float64)
    x = check_input(x, net.input_shape, "gradient_check", np.float64)

    def total_loss() -> float:
        return loss.value(net._forward(x, training=True), y)

    output = net._forward(x, training=True)
    base_loss, grad_out = loss.value_and_gradient(output, y)
    noise_floor = 10 * np.finfo(np.float64).eps * max(1.0, abs(base_loss)) / eps
    smallest_scale = noise_floor / tolerance
    net.backward(grad_out)
    analytic = {name: p.grad.copy() for name, p in net.named_parameters()}

    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    differences: dict[str, float] = {}
    for name, p in net.named_parameters():
        flat = p.value.reshape(-1)
        indices = np.arange(flat.size)
        if max_entries is not None and flat.size > max_entries:
            indices = rng.choice(flat.size, size=max_entries, replace=False)
        numeric = np.empty(len(indices))
        for j, i in enumerate(indices):
            original = flat[i]
            flat[i] = original + eps
            plus = total_loss()
            flat[i] = original - eps
            minus = total_loss()
            flat[i] = original
            numeric[j] = (plus - minus) / (2 * eps)
        a = analytic[name].reshape(-1)[indices]
        rel = np.abs(a - numeric) / np.maximum(np.abs(a) + np.abs(numeric), smallest_scale)
        errors[name] = float(rel.max()) if rel.size else 0.0
        differences[name] = float(np.abs(a - numeric).max()) if rel.size else 0.0
    worst = max(errors.values()) if errors else 0.0
    return GradientCheckResult(errors, worst, tolerance, differences)
