"""How much memory training needs, checked before anything large is allocated.

The estimate counts what training cannot do without, so that a refusal is certain to be right:

    bytes = itemsize * (P * (2 + s) + B * (x + 3 * sum(widths)))

with P the parameter count, 2 for the parameters and their gradients, s the optimizer's state
arrays per parameter (Adam: m, v and a scratch array), B the batch size, x the input width and
``widths`` every layer's output width (forward output, its saved input and the backward
gradient). The dataset already in memory is not counted; a copy that training makes is added
by the caller.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

#: state arrays each optimizer keeps per parameter, its scratch array included
OPTIMIZER_SLOTS = {
    "sgd": 1,
    "momentum": 2,
    "nesterov": 2,
    "adagrad": 2,
    "rmsprop": 2,
    "adam": 3,
    "adamw": 3,
}

GB = 1e9


def available_memory() -> int | None:
    """Bytes the system can hand out now: ``MemAvailable`` of /proc/meminfo, else the free
    physical pages from ``os.sysconf``; None where neither can be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def mlp_parameter_count(sizes: Sequence[int], batch_norm: bool = False) -> int:
    """Weights and biases of an MLP with layer ``sizes`` (plus gamma and beta per hidden unit
    with batch norm)."""
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    if batch_norm:
        count += 2 * sum(sizes[1:-1])
    return count


def training_bytes(
    n_parameters: int,
    values_per_sample: int,
    batch_size: int,
    itemsize: int,
    optimizer: str = "adam",
) -> int:
    """The estimate above, in bytes, with ``values_per_sample`` = x + 3 * sum(widths) plus the
    image layers' scratch (``nnscratch.core.layers.values_per_sample`` counts it)."""
    slots = OPTIMIZER_SLOTS.get(optimizer, 1)
    return int(itemsize * (n_parameters * (2 + slots) + batch_size * values_per_sample))


def size_text(n_bytes: float) -> str:
    """A byte count in GB (1e9 bytes), or in MB below 0.1 GB."""
    return f"{n_bytes / GB:.1f} GB" if n_bytes >= 0.1 * GB else f"{n_bytes / 1e6:.1f} MB"


def check_memory(needed: int, what: str, hint: str) -> None:
    """Raise ``MemoryError`` when ``needed`` bytes exceed the memory available now."""
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"{what} needs about {size_text(needed)} of memory but only "
            f"{size_text(available)} is available; {hint}"
        )
