"""``nnscratch reproduce``: every experiment of the source articles, next to their figures."""

from .runner import EXPERIMENTS, Row, run_all

__all__ = ["EXPERIMENTS", "Row", "run_all"]
