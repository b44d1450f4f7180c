"""The record of a training run: one value per epoch for every logged quantity."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class History:
    """Per-epoch logs: ``history["loss"]``, ``history["val_accuracy"]``, ``history["seconds"]``...

    ``history.history`` is the plain dict of lists (Keras's layout); ``epochs`` numbers the
    epochs from 1, continuing across calls to ``fit`` and across a resume.
    """

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        n_before = len(self.epochs)
        self.epochs.append(int(epoch))
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * n_before)
            column.append(float(value))
        for column in self.history.values():  # keys missing this epoch get NaN
            if len(column) < len(self.epochs):
                column.append(math.nan)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items()} if self.epochs else {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        clean = {k: [None if math.isnan(x) else x for x in v] for k, v in self.history.items()}
        return {"epochs": list(self.epochs), "history": clean}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        h = cls()
        h.epochs = [int(e) for e in data.get("epochs", [])]
        h.history = {
            k: [math.nan if x is None else float(x) for x in v]
            for k, v in data.get("history", {}).items()
        }
        return h

    def __repr__(self) -> str:
        return f"History({len(self.epochs)} epochs, keys={sorted(self.history)})"
