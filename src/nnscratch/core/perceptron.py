"""The perceptron, the first model of the articles (seeds 000 and 004).

A perceptron computes a weighted sum and thresholds it: y_hat = step(w . x + b). Rosenblatt's
rule updates only on mistakes: for a misclassified sample (x, y) with y in {-1, +1}
    w <- w + eta y x,   b <- b + eta y.
If the classes are linearly separable with margin gamma and every ||x|| <= R, the rule makes at
most (R / gamma)^2 updates (Novikoff's theorem), so it stops after finitely many mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._types import Array
from .initializers import SeedLike, as_generator
from .validation import as_float_array, check_input


@dataclass
class PerceptronResult:
    converged: bool
    epochs: int
    updates: int
    mistakes_per_epoch: list[int] = field(default_factory=list)


class Perceptron:
    """Binary perceptron with labels -1/+1 and a step output."""

    def __init__(self, learning_rate: float = 1.0, seed: SeedLike = None) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.seed = seed
        self.w: Array | None = None
        self.b = 0.0

    def decision_function(self, x: Array) -> Array:
        """w . x + b for each row of x."""
        if self.w is None:
            raise RuntimeError("the perceptron is not fitted yet: call fit(x, y) first")
        x = check_input(x, len(self.w), "Perceptron", np.float64)
        scores: Array = x @ self.w + self.b
        return scores

    def predict(self, x: Array) -> Array:
        """+1 where w . x + b > 0, else -1 (the step function, mapped to +-1)."""
        return np.where(self.decision_function(x) > 0, 1, -1)

    def fit(self, x: Array, y: Array, max_epochs: int = 1000) -> PerceptronResult:
        """Run the perceptron rule until an epoch without mistakes, or ``max_epochs``.

        Samples are visited in a random order each epoch (seeded), one at a time: the rule is
        inherently sequential, since each update changes the next prediction.
        """
        x = check_input(x, None, "Perceptron.fit", np.float64)
        y = as_float_array(y, "y")
        if y.shape != (len(x),):
            raise ValueError(f"y must have shape ({len(x)},) to match x {x.shape}, got {y.shape}")
        if not np.all(np.isin(y, (-1, 1))):
            raise ValueError(f"perceptron labels must be -1 or +1, got values {np.unique(y)[:10]}")
        rng = as_generator(self.seed)
        self.w = np.zeros(x.shape[1])
        self.b = 0.0
        updates = 0
        history: list[int] = []
        for epoch in range(1, max_epochs + 1):
            mistakes = 0
            for i in rng.permutation(len(x)):
                if y[i] * (x[i] @ self.w + self.b) <= 0:
                    self.w += self.learning_rate * y[i] * x[i]
                    self.b += self.learning_rate * y[i]
                    mistakes += 1
            updates += mistakes
            history.append(mistakes)
            if mistakes == 0:
                return PerceptronResult(True, epoch, updates, history)
        return PerceptronResult(False, max_epochs, updates, history)
