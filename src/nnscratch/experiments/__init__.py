"""``nnscratch reproduce``: every experiment of the source articles, next to their figures.

``common`` holds what the experiments share (``Row``, ``Context``, ``verdict``); each article has
its module (``seed000``, ...), importing ``common`` only; ``runner`` imports them all, runs them
and writes the table. The runner is loaded on first use of its names, so importing one article's
module (as the web pages do) does not load every experiment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import Context, Row, verdict

if TYPE_CHECKING:  # at run time ``__getattr__`` below loads them on first use
    from .runner import EXPERIMENTS, REGISTRY, run_all

__all__ = ["EXPERIMENTS", "REGISTRY", "Context", "Row", "run_all", "verdict"]

_FROM_RUNNER = ("EXPERIMENTS", "REGISTRY", "run_all")


def __getattr__(name: str) -> Any:
    if name in _FROM_RUNNER:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
