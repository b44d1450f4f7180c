"""Every page of the guide ends with exercises, and every exercise has a worked solution.

For each numbered page ``docs/guide/NN-name.md``:

* its last ``## `` section is ``## Exercises``, a numbered list of 2 to 5 exercises;
* exercise k links to ``solutions/NN-name.md#exercise-k``, and that file has a heading
  ``## Exercise k`` for each k (no more, no fewer);
* ``docs/guide/solutions/README.md`` lists every solution file.

The solutions' code blocks run, and assert their answers, through test_code_blocks.py (which
collects every Markdown file under docs/). Here, in addition, every relative link of the guide
and of the solutions must reach an existing file, and a link with a ``#fragment`` must name a
heading of its target the way GitHub renders it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.docs.test_code_blocks import _FENCE, relative_links

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "guide"
SOLUTIONS = GUIDE / "solutions"
PAGES = sorted(GUIDE.glob("[0-9][0-9]-*.md"))

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\d+)\.\s")


def prose_lines(page: Path) -> list[str]:
    """The lines of a Markdown file outside fenced blocks (blank where a block was)."""
    lines, inside = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            inside = not inside
            lines.append("")
        else:
            lines.append("" if inside else line)
    return lines


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading id of a Markdown file, with GitHub's -1, -2 ... for repeats."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in prose_lines(page):
        match = _HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match[2])
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def exercises(page: Path) -> list[str]:
    """The text of each numbered exercise of the page's closing "## Exercises" section."""
    lines = prose_lines(page)
    sections = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert sections, f"{page.name} has no ## section"
    start = sections[-1]
    assert lines[start].strip() == "## Exercises", (
        f"{page.name}: the last section is {lines[start]!r}, not '## Exercises'"
    )
    items: list[list[str]] = []
    for line in lines[start + 1 :]:
        if _ITEM.match(line):
            items.append([line])
        elif items and line.startswith("   "):
            items[-1].append(line)
        elif items and line.strip():
            break  # past the list: the closing "Next:" line
    for number, item in enumerate(items, start=1):
        assert int(_ITEM.match(item[0])[1]) == number, f"{page.name}: exercise {number} misnumbered"
    return [" ".join(item) for item in items]


def test_every_page_is_covered():
    assert len(PAGES) >= 12
    assert SOLUTIONS.is_dir()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_ends_with_exercises_linked_to_worked_solutions(page: Path):
    items = exercises(page)
    assert 2 <= len(items) <= 5, f"{page.name} has {len(items)} exercises; 2 to 5 expected"
    solution = SOLUTIONS / page.name
    assert solution.exists(), f"{page.name} has no worked solutions in {solution}"
    for number, item in enumerate(items, start=1):
        assert f"](solutions/{page.name}#exercise-{number})" in item, (
            f"{page.name}: exercise {number} does not link to its solution"
        )
    headings = [m[2] for line in prose_lines(solution) if (m := _HEADING.match(line))]
    numbered = [h for h in headings if h.startswith("Exercise ")]
    assert numbered == [f"Exercise {k}" for k in range(1, len(items) + 1)], (
        f"solutions/{page.name} has the sections {numbered}, one per exercise expected"
    )


def test_solution_files_belong_to_pages_and_are_indexed():
    index = (SOLUTIONS / "README.md").read_text(encoding="utf-8")
    for solution in sorted(SOLUTIONS.glob("*.md")):
        if solution.name == "README.md":
            continue
        assert (GUIDE / solution.name).exists(), f"solutions/{solution.name} has no page"
        assert f"]({solution.name})" in index, f"solutions/README.md does not list {solution.name}"


LINKED = sorted(GUIDE.glob("*.md")) + sorted(SOLUTIONS.glob("*.md"))


def broken_links(page: Path, ids_of: Callable[[Path], set[str]] = anchors) -> list[str]:
    """Every relative link of ``page`` to a missing file, or to an ``#anchor`` that the target
    (a Markdown file) does not define according to ``ids_of``."""
    broken = []
    for line, target in relative_links(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{page.name}:{line}: {target} (no such file)")
        elif fragment and file.suffix == ".md" and fragment not in ids_of(file):
            broken.append(f"{page.name}:{line}: {target} (no anchor #{fragment})")
    return broken


@pytest.mark.parametrize("page", LINKED, ids=[p.relative_to(GUIDE).as_posix() for p in LINKED])
def test_links_and_anchors_resolve(page: Path):
    broken = broken_links(page)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_github_anchors():
    assert github_anchor("Exercise 3") == "exercise-3"
    assert github_anchor("Gradient checking") == "gradient-checking"
    assert (
        github_anchor("The `Dense` layer: forward, backward") == "the-dense-layer-forward-backward"
    )
