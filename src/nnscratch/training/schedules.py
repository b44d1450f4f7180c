"""Learning-rate schedules: the rate to use in a given epoch (counted from 0).

Each schedule is a callable ``schedule(epoch) -> learning rate`` built around the optimizer's
base rate ``eta0``. Training applies it at the start of every epoch.
"""

from __future__ import annotations

import math
from typing import Any


class Schedule:
    name = "schedule"

    def __init__(self, base_rate: float) -> None:
        if not (base_rate > 0 and math.isfinite(base_rate)):
            raise ValueError(f"base learning rate must be a finite number > 0, got {base_rate!r}")
        self.base_rate = float(base_rate)

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"base_rate": self.base_rate}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


class Constant(Schedule):
    """eta(t) = eta0."""

    name = "constant"

    def __call__(self, epoch: int) -> float:
        return self.base_rate


class StepDecay(Schedule):
    """eta(t) = eta0 * gamma^floor(t / step_size): divide by 1/gamma every ``step_size`` epochs."""

    name = "step"

    def __init__(self, base_rate: float, step_size: int = 10, gamma: float = 0.1) -> None:
        super().__init__(base_rate)
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size!r}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def __call__(self, epoch: int) -> float:
        return self.base_rate * self.gamma ** (epoch // self.step_size)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """eta(t) = eta0 * gamma^t."""

    name = "exponential"

    def __init__(self, base_rate: float, gamma: float = 0.95) -> None:
        super().__init__(base_rate)
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)

    def __call__(self, epoch: int) -> float:
        return self.base_rate * self.gamma**epoch

    def config(self) -> dict[str, Any]:
        return {**super().config(), "gamma": self.gamma}


class CosineAnnealing(Schedule):
    """eta(t) = eta_min + (eta0 - eta_min) (1 + cos(pi t / T)) / 2 for t <= T, then eta_min."""

    name = "cosine"

    def __init__(self, base_rate: float, total_epochs: int, min_rate: float = 0.0) -> None:
        super().__init__(base_rate)
        if total_epochs < 1:
            raise ValueError(f"total_epochs must be >= 1, got {total_epochs!r}")
        if not 0 <= min_rate <= base_rate:
            raise ValueError(f"min_rate must be in [0, base_rate], got {min_rate!r}")
        self.total_epochs, self.min_rate = int(total_epochs), float(min_rate)

    def __call__(self, epoch: int) -> float:
        t = min(epoch, self.total_epochs)
        cos = (1 + math.cos(math.pi * t / self.total_epochs)) / 2
        return self.min_rate + (self.base_rate - self.min_rate) * cos

    def config(self) -> dict[str, Any]:
        return {**super().config(), "total_epochs": self.total_epochs, "min_rate": self.min_rate}


class LinearWarmup(Schedule):
    """eta(t) = eta0 (t + 1) / W for the first W epochs, then ``after(t - W)`` (constant eta0 by
    default). Starting small lets adaptive optimizers collect gradient statistics first."""

    name = "warmup"

    def __init__(
        self, base_rate: float, warmup_epochs: int = 5, after: Schedule | None = None
    ) -> None:
        super().__init__(base_rate)
        if warmup_epochs < 1:
            raise ValueError(f"warmup_epochs must be >= 1, got {warmup_epochs!r}")
        self.warmup_epochs = int(warmup_epochs)
        self.after = after or Constant(base_rate)

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return self.base_rate * (epoch + 1) / self.warmup_epochs
        return self.after(epoch - self.warmup_epochs)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "warmup_epochs": self.warmup_epochs}


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, ExponentialDecay, CosineAnnealing, LinearWarmup)
}


def get_schedule(name: str, base_rate: float, epochs: int | None = None, **kwargs: Any) -> Schedule:
    """A schedule by name; ``cosine`` defaults to annealing over ``epochs``."""
    key = name.strip().lower()
    if key not in SCHEDULES:
        raise ValueError(
            f"unknown learning-rate schedule {name!r}; expected one of {sorted(SCHEDULES)}"
        )
    if key == "cosine":
        kwargs.setdefault("total_epochs", epochs or 1)
    return SCHEDULES[key](base_rate, **kwargs)
