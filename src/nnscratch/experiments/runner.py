"""Runs the experiments, prints the table (experiment, article's figure, ours, verdict) and writes
it as Markdown and JSON next to the figures.

The printed table and the Markdown are in English or Chinese (``lang``); every word of them is a
message of ``nnscratch.i18n``, looked up here. The JSON stays English for programs to read."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ..i18n import check_lang, display_width, message, pad, render
from . import nielsen_ch6, saito_ch7, seed000, seed002, seed003, seed004
from .common import Context, Row

#: Every experiment, by the name ``--only`` takes, in the order of the table. A new article is
#: a module that imports ``.common`` only, plus its entries here.
REGISTRY: dict[str, Callable[[Context], list[Row]]] = {
    "seed000": seed000.run,
    "seed002-neuron": seed002.run_neuron,
    "seed002-mnist": seed002.run_mnist,
    "seed003": seed003.run,
    "seed004": seed004.run,
    "nielsen-ch6-conv1": nielsen_ch6.run_conv1,
    "nielsen-ch6-conv2": nielsen_ch6.run_conv2,
    "nielsen-ch6-relu": nielsen_ch6.run_relu,
    "nielsen-ch6-expanded": nielsen_ch6.run_expanded,
    "saito-ch7": saito_ch7.run,
}

EXPERIMENTS = tuple(REGISTRY)


def run_all(
    out: Path,
    fast: bool = False,
    data_dir: str | None = None,
    only: list[str] | None = None,
    lang: str = "en",
) -> int:
    """Run the experiments (all, or those named in ``only``); return 0 if no row failed.

    ``lang`` ("en" or "zh") is the language of the printed table and of ``results.md``;
    ``results.json`` stays English (its keys and texts are for programs, not readers)."""
    check_lang(lang)
    names = only or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; choose from {list(REGISTRY)}")
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, fast, data_dir)
    rows: list[Row] = []
    started = time.perf_counter()
    mode = message("run.mode.fast" if fast else "run.mode.full", lang)
    print(message("run.start", lang, mode=mode, out=out), flush=True)
    for name in names:
        t0 = time.perf_counter()
        new_rows = REGISTRY[name](ctx)
        rows += new_rows
        for row in new_rows:
            print(format_row(row, lang), flush=True)
        print(f"   ({name}: {time.perf_counter() - t0:.1f}s)", flush=True)
    elapsed = time.perf_counter() - started
    _write(out, rows, ctx.figures, elapsed, fast, lang)
    print("\n" + summary(rows, elapsed, out / "results.md", lang))
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0


def summary(rows: list[Row], seconds: float, table: Path, lang: str = "en") -> str:
    """The last line: how many rows passed, failed and were skipped, and where the table is."""
    counts = {v: sum(r.verdict == v for r in rows) for v in ("pass", "FAIL", "skipped")}
    return message(
        "run.summary",
        lang,
        passed=counts["pass"],
        failed=counts["FAIL"],
        skipped=counts["skipped"],
        seconds=seconds,
        table=table,
    )


def format_row(row: Row, lang: str = "en") -> str:
    """One row as printed: ``[mark] experiment`` and, indented under it, the article's figure,
    ours and the note, each after its label. Marks and labels are padded to the widest of
    their kind by terminal cells (a Chinese character takes two), so the columns line up."""
    marks = {v: message(f"mark.{v}", lang) for v in ("pass", "FAIL", "skipped")}
    mark_width = max(map(display_width, marks.values()))
    labels = {k: message(f"label.{k}", lang) for k in ("article", "ours", "note")}
    label_width = max(map(display_width, labels.values())) + 1
    indent = " " * (mark_width + 3)  # under the text after "[mark] "
    lines = [f"[{pad(marks[row.verdict], mark_width)}] {render(row.experiment, lang)}"]
    for key, text in (("article", row.article), ("ours", row.ours), ("note", row.note)):
        if text or key != "note":
            lines.append(f"{indent}{pad(labels[key], label_width)}{render(text, lang)}")
    return "\n".join(lines)


def markdown(
    rows: list[Row], figures: list[Path], elapsed: float, fast: bool, lang: str = "en"
) -> str:
    """``results.md``: the run's mode and time, the table, and links to the figures."""
    header = [message(f"md.{k}", lang) for k in ("experiment", "article", "ours", "verdict")]
    lines = [
        message("md.title", lang),
        "",
        (message("md.fast", lang) if fast else "") + message("md.time", lang, seconds=elapsed),
        "",
        "| " + " | ".join(header) + " |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        ours = render(r.ours, lang)
        if r.note:
            ours += f" ({render(r.note, lang)})" if lang == "en" else f"（{render(r.note, lang)}）"
        cells = [render(r.experiment, lang), render(r.article, lang), ours]
        lines.append(f"| {' | '.join(cells)} | {message(f'verdict.{r.verdict}', lang)} |")
    lines += ["", message("md.figures", lang), ""] + [f"- [{p.name}]({p.name})" for p in figures]
    return "\n".join(lines) + "\n"


def _write(
    out: Path, rows: list[Row], figures: list[Path], elapsed: float, fast: bool, lang: str
) -> None:
    _atomic_text(out / "results.md", markdown(rows, figures, elapsed, fast, lang))
    payload = {
        "fast": fast,
        "seconds": elapsed,
        "rows": [asdict(r) for r in rows],
        "figures": [p.name for p in figures],
    }
    _atomic_text(out / "results.json", json.dumps(payload, indent=2) + "\n")


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
