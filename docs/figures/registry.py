"""The registry of the guide's figures: which file, for which page, with which alt text, drawn how.

Each page's figures live in a module ``docs/figures/pNN_<short>.py`` that decorates its drawing
functions with :func:`figure`. ``docs/make_figures.py`` imports every such module (in sorted
order), calls each registered ``draw(fast)`` and writes the figure it returns to
``docs/guide/img/<filename>``. That script is the only producer of the guide's pictures, and
the tests check both directions: every PNG in ``docs/guide/img`` is registered here, and every
registered figure is in ``docs/guide/img`` and referenced by its page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

GUIDE = Path(__file__).resolve().parent.parent / "guide"  # the pages, for figure modules
# "03-activations.png": the page's two-digit number, then lowercase words joined by hyphens
FILENAME = re.compile(r"^(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*\.png$")
PAGE = re.compile(r"^(\d\d)-[a-z0-9-]+\.md$")

F = TypeVar("F", bound=Callable[[bool], "Figure"])


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the guide.

    ``filename`` is the PNG's name in ``docs/guide/img``, prefixed by its page's number;
    ``page`` the English page it illustrates; ``alt`` one English sentence saying what the
    picture shows (the page's ``![alt](img/filename)`` uses the same words); ``draw(fast)``
    returns the matplotlib Figure, with ``fast=True`` meaning small data and few epochs
    (a few seconds at most), as the test suite runs it.
    """

    filename: str
    page: str
    alt: str
    draw: Callable[[bool], Figure]


FIGURES: list[FigureSpec] = []


def figure(filename: str, *, page: str, alt: str) -> Callable[[F], F]:
    """Register ``draw`` as the producer of ``filename``; return ``draw`` unchanged.

    Raises ValueError at import time for a malformed file or page name, a figure whose number
    is not its page's, an empty alt text or a filename registered twice, so that a mistake
    shows up before anything is drawn.
    """
    match = FILENAME.match(filename)
    if match is None:
        raise ValueError(
            f"figure filename {filename!r} must look like '03-activations.png' (the page's "
            "two-digit number, lowercase words joined by hyphens, .png)"
        )
    page_match = PAGE.match(page)
    if page_match is None:
        # whether the page exists and shows the figure is tests/docs/test_figures.py's to say:
        # a figure module may be written before its page
        raise ValueError(
            f"figure {filename!r}: page {page!r} must be the file name of a guide page, such "
            "as '03-hidden-layer-and-activations.md'"
        )
    if match.group(1) != page_match.group(1):
        raise ValueError(
            f"figure {filename!r} belongs to page {page!r}: its name must start with "
            f"{page_match.group(1)}-"
        )
    if not alt.strip():
        raise ValueError(f"figure {filename!r} needs an alt text saying what it shows")
    if any(c in alt for c in "[]\n"):
        # the page repeats it as ![alt](img/...), where a bracket or a line break would end it
        raise ValueError(f"figure {filename!r}: the alt text must be one line without [ or ]")
    if any(spec.filename == filename for spec in FIGURES):
        raise ValueError(f"figure {filename!r} is registered twice")

    def register(draw: F) -> F:
        FIGURES.append(FigureSpec(filename, page, alt.strip(), draw))
        return draw

    return register
