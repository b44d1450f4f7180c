"""The Chinese edition (docs/guide/zh/) covers the English guide page for page.

For every English page of docs/guide/ (the index and the numbered pages) and every worked
solution in docs/guide/solutions/, there is a Chinese file of the same name (in docs/guide/zh/
and docs/guide/zh/solutions/) that

* has exactly the same fenced blocks (code, output and math), in the same order, so that the
  examples a Chinese reader runs are the ones the English pages run in test_code_blocks.py
  (which therefore need not run them twice);
* shows the same figures and links to the same exercise solutions;
* is actually written in Chinese, links back to its English original, and has no relative link
  that leads nowhere (nor to a missing ``#anchor``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.docs.test_code_blocks import relative_links
from tests.docs.test_exercises import anchors, broken_links

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "guide"
ZH = GUIDE / "zh"
ZH_SOLUTIONS = ZH / "solutions"


def _originals() -> list[Path]:
    guide = [p for p in GUIDE.glob("*.md") if re.match(r"\d\d-|README\.md$", p.name)]
    return sorted(guide) + sorted((GUIDE / "solutions").glob("*.md"))


ENGLISH = _originals()

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
_SOLUTION = re.compile(r"\]\(([^)\s]*solutions/[^)\s#]+)(?:#[^)\s]*)?\)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_HTML_ID = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def chinese_of(english: Path) -> Path:
    """The Chinese file for an English page or solution."""
    return ZH / english.relative_to(GUIDE)


def fenced_blocks(text: str) -> list[str]:
    """Every fenced block of a Markdown text, opening and closing fence included."""
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence = match[1]
        block = [lines[i].strip()]
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence) and not lines[i].strip().strip(fence[0])
        ):
            block.append(lines[i])
            i += 1
        blocks.append("\n".join(block))
        i += 1
    return blocks


def prose(text: str) -> str:
    """The text outside fenced blocks and inline code."""
    out, inside = [], None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match and inside is None:
            inside = match[1]
        elif inside and line.strip().startswith(inside) and not line.strip().strip(inside[0]):
            inside = None
        elif inside is None:
            out.append(re.sub(r"`[^`]*`|\$[^$]*\$", "", line))
    return "\n".join(out)


def _id(page: Path) -> str:
    return page.relative_to(ZH if ZH in page.parents else GUIDE).as_posix()


def test_the_english_guide_was_found():
    assert len([p for p in ENGLISH if p.parent == GUIDE]) >= 14, [p.name for p in ENGLISH]
    assert len([p for p in ENGLISH if p.parent != GUIDE]) >= 13, "the worked solutions"


@pytest.mark.parametrize("english", ENGLISH, ids=_id)
def test_every_page_has_a_chinese_counterpart(english: Path):
    chinese = chinese_of(english)
    assert chinese.exists(), f"docs/guide/zh/{_id(english)} is missing (translate it)"


@pytest.mark.parametrize("english", ENGLISH, ids=_id)
def test_same_code_blocks(english: Path):
    chinese = chinese_of(english)
    if not chinese.exists():
        pytest.fail(f"docs/guide/zh/{_id(english)} is missing")
    en = fenced_blocks(english.read_text(encoding="utf-8"))
    zh = fenced_blocks(chinese.read_text(encoding="utf-8"))
    for k, (a, b) in enumerate(zip(en, zh, strict=False)):
        assert a == b, f"fenced block {k + 1} of zh/{_id(english)} differs from the English one"
    assert len(en) == len(zh), f"{len(en)} fenced blocks in English, {len(zh)} in zh"


@pytest.mark.parametrize("english", ENGLISH, ids=_id)
def test_same_figures_and_exercises(english: Path):
    chinese = chinese_of(english)
    if not chinese.exists():
        pytest.fail(f"docs/guide/zh/{_id(english)} is missing")
    en_text, zh_text = english.read_text(encoding="utf-8"), chinese.read_text(encoding="utf-8")
    en_images = [Path(t).name for t in _IMAGE.findall(en_text)]
    zh_images = [Path(t).name for t in _IMAGE.findall(zh_text)]
    assert zh_images == en_images, "the Chinese page must show the same figures, in order"
    if english.parent == GUIDE:  # a guide page: its exercises link to their solutions
        en_solutions = [Path(t).name for t in _SOLUTION.findall(en_text)]
        zh_solutions = [Path(t).name for t in _SOLUTION.findall(zh_text)]
        assert len(zh_solutions) == len(en_solutions), "every exercise links to its solution"
        assert set(zh_solutions) == set(en_solutions)


@pytest.mark.parametrize("english", ENGLISH, ids=_id)
def test_written_in_chinese_with_a_link_to_the_original(english: Path):
    chinese = chinese_of(english)
    if not chinese.exists():
        pytest.fail(f"docs/guide/zh/{_id(english)} is missing")
    text = chinese.read_text(encoding="utf-8")
    words = prose(text)
    han = len(_CJK.findall(words))
    latin = len(re.findall(r"[A-Za-z]+", words))
    assert han > 4 * latin, f"zh/{_id(english)}: {han} Chinese characters, {latin} English words"
    targets = [(chinese.parent / t.partition("#")[0]).resolve() for _, t in relative_links(chinese)]
    assert english.resolve() in targets, f"zh/{_id(english)} does not link to its original"


ZH_PAGES = sorted(ZH.rglob("*.md")) if ZH.exists() else []


def _ids_of(page: Path) -> set[str]:
    """The heading anchors of a Markdown file and its explicit <a id="..."> anchors."""
    return anchors(page) | set(_HTML_ID.findall(page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", ZH_PAGES, ids=_id)
def test_relative_links_and_anchors_resolve(page: Path):
    broken = broken_links(page, _ids_of)
    assert not broken, f"zh/{_id(page)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", ZH_PAGES, ids=_id)
def test_no_chinese_page_without_an_english_one(page: Path):
    original = GUIDE / page.relative_to(ZH)
    assert original.exists(), f"zh/{_id(page)} has no English original"
