"""Terminal progress: a bar per epoch (tqdm) and one summary line per epoch."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class _Bar(Protocol):
    """What is used of a tqdm bar (tqdm has no type annotations of its own)."""

    def update(self, n: int) -> object: ...

    def set_postfix(self, ordered_dict: dict[str, str], refresh: bool) -> None: ...

    def close(self) -> None: ...


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Shows a per-epoch bar (loss, metric, samples/s, ETA) on ``bar_stream`` (stderr) and
    prints one summary line per epoch on ``stream`` (stdout).

    ``verbose="auto"`` shows both on a terminal and nothing otherwise (logs and pipes stay
    clean); 1 always prints the summary lines (and the bar on a terminal), 2 forces the bar
    too; 0 is silent.
    """

    def __init__(
        self,
        verbose: int | str = "auto",
        stream: TextIO | None = None,
        bar_stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        self.bar_stream = bar_stream or sys.stderr
        tty = _is_terminal(self.bar_stream)
        if verbose == "auto":
            self.bar_on, self.lines = tty, tty and _is_terminal(self.stream)
        elif verbose in (0, False):
            self.bar_on, self.lines = False, False
        elif verbose in (1, True):
            self.bar_on, self.lines = tty, True
        elif verbose == 2:
            self.bar_on, self.lines = True, True
        else:
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        self._bar: _Bar | None = None
        self._last_postfix = 0.0

    def start_epoch(self, epoch: int, total_epochs: int, n_samples: int) -> None:
        if not self.bar_on:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=n_samples,
            desc=f"epoch {epoch}/{total_epochs}",
            unit="samples",
            unit_scale=True,
            leave=False,
            file=self.stream,
            dynamic_ncols=True,
        )
        self._last_postfix = 0.0

    def update(self, n: int, loss: float, metric_name: str | None, metric: float | None) -> None:
        if self._bar is None:
            return
        self._bar.update(n)
        now = time.perf_counter()
        if now - self._last_postfix > 0.25:  # formatting every batch would cost more than the batch
            postfix = {"loss": f"{loss:.4f}"}
            if metric_name is not None and metric is not None:
                postfix[metric_name] = f"{metric:.4f}"
            self._bar.set_postfix(postfix, refresh=False)
            self._last_postfix = now

    def end_epoch(self, epoch: int, total_epochs: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.lines:
            parts = [f"epoch {epoch:>3}/{total_epochs}"]
            for key, value in logs.items():
                if key in ("seconds", "lr"):
                    continue
                parts.append(f"{key} {value:.4f}")
            parts.append(f"{logs.get('seconds', 0):.2f}s")
            print("  ".join(parts), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
