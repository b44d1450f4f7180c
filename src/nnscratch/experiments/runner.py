"""Runs the experiments, prints the table (experiment, article's figure, ours, verdict) and writes
it as Markdown and JSON next to the figures."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

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
    out: Path, fast: bool = False, data_dir: str | None = None, only: list[str] | None = None
) -> int:
    """Run the experiments (all, or those named in ``only``); return 0 if no row failed."""
    names = only or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; choose from {list(REGISTRY)}")
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, fast, data_dir)
    rows: list[Row] = []
    started = time.perf_counter()
    mode = "fast mode: fewer epochs on MNIST, said in each row" if fast else "full run"
    print(f"reproducing the articles ({mode}); figures go to {out}/", flush=True)
    for name in names:
        t0 = time.perf_counter()
        new_rows = REGISTRY[name](ctx)
        rows += new_rows
        for row in new_rows:
            _print_row(row)
        print(f"   ({name}: {time.perf_counter() - t0:.1f}s)", flush=True)
    elapsed = time.perf_counter() - started
    failed = sum(r.verdict == "FAIL" for r in rows)
    passed = sum(r.verdict == "pass" for r in rows)
    skipped = sum(r.verdict == "skipped" for r in rows)
    _write(out, rows, ctx.figures, elapsed, fast)
    print(
        f"\n{passed} passed, {failed} failed, {skipped} skipped in {elapsed:.0f}s; "
        f"table in {out / 'results.md'}"
    )
    return 1 if failed else 0


def _print_row(row: Row) -> None:
    mark = {"pass": "ok  ", "FAIL": "FAIL", "skipped": "skip"}[row.verdict]
    print(
        f"[{mark}] {row.experiment}\n       article: {row.article}\n       ours:    {row.ours}"
        + (f"\n       note:    {row.note}" if row.note else ""),
        flush=True,
    )


def _write(out: Path, rows: list[Row], figures: list[Path], elapsed: float, fast: bool) -> None:
    lines = [
        "# nnscratch reproduce",
        "",
        f"{'Fast mode (fewer MNIST epochs). ' if fast else ''}Run time {elapsed:.0f} s.",
        "",
        "| experiment | article | ours | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        ours = r.ours + (f" ({r.note})" if r.note else "")
        lines.append(f"| {r.experiment} | {r.article} | {ours} | {r.verdict} |")
    lines += ["", "Figures:", ""] + [f"- [{p.name}]({p.name})" for p in figures]
    _atomic_text(out / "results.md", "\n".join(lines) + "\n")
    payload = {
        "fast": fast,
        "seconds": elapsed,
        "rows": [asdict(r) for r in rows],
        "figures": [p.name for p in figures],
    }
    _atomic_text(out / "results.json", json.dumps(payload, indent=2) + "\n")


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
