"""Reading a user's 2-D dataset: a CSV file of ``x1,x2,label`` rows, validated strictly.

Accepted: UTF-8 text (a byte-order mark is ignored), one sample per line, three fields
separated by commas (or semicolons, or tabs), an optional header line, blank lines and lines
starting with ``#`` ignored. ``x1`` and ``x2`` must be finite numbers; the label is any
non-empty text (``0``, ``1``, ``red``...). Labels are mapped to classes 0..k-1 in sorted order
(numerically when every label is a number). Every error names the line and what was wrong.

The third column may instead be a numeric target (a regression problem): ``target="values"``
asks for that, ``target="auto"`` chooses it when every label is a finite number and some
label is not an integer (integer labels stay classes: 0/1 is far more often a class than a
value; too many of them is an error that points to ``"values"``).
"""

from __future__ import annotations

import math

import numpy as np

from .settings import MAX_CLASSES
from .validation import ParamError


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _sort_key(label: str) -> tuple[int, float, str]:
    value = _number(label)
    return (0, value, "") if value is not None and math.isfinite(value) else (1, 0.0, label)


TARGETS = ("auto", "classes", "values")


def read_csv_rows(
    data: bytes, max_rows: int, field: str = "file"
) -> tuple[np.ndarray, list[str], list[int]]:
    """Parse and validate the CSV's rows; return (X float32 [n, 2], labels, line numbers)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParamError(
            f"the file is not UTF-8 text (byte {exc.start} is invalid); save it as CSV",
            field,
        ) from None
    if "\x00" in text:
        raise ParamError("the file is binary, not CSV text", field)
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    sep = next((s for s in (",", ";", "\t") if s in first), ",")
    xs: list[tuple[float, float]] = []
    labels: list[str] = []
    numbers: list[int] = []
    header_seen = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f.strip().strip('"').strip("'").strip() for f in stripped.split(sep)]
        if len(fields) != 3:
            raise ParamError(
                f"line {number}: expected 3 values (x1{sep}x2{sep}label), got {len(fields)}",
                field,
            )
        a, b = _number(fields[0]), _number(fields[1])
        if a is None or b is None:
            if not xs and not header_seen:
                header_seen = True  # a header line such as "x1,x2,label"
                continue
            bad = fields[0] if a is None else fields[1]
            raise ParamError(f"line {number}: {bad!r} is not a number", field)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ParamError(f"line {number}: coordinates must be finite numbers", field)
        if not fields[2]:
            raise ParamError(f"line {number}: the label is empty", field)
        if len(xs) >= max_rows:
            raise ParamError(
                f"the file has more than {max_rows:,} rows, the server's limit for one dataset",
                field,
                413,
            )
        xs.append((a, b))
        labels.append(fields[2])
        numbers.append(number)
    if len(xs) < 4:
        raise ParamError(f"the file needs at least 4 data rows, found {len(xs)}", field)
    x = np.asarray(xs, dtype=np.float64)
    if np.abs(x).max() > 1e30:
        raise ParamError("coordinates must be smaller than 1e30 in magnitude", field)
    return x.astype(np.float32), labels, numbers


def is_numeric_target(labels: list[str]) -> bool:
    """``target="auto"``: every label a finite number and some label not an integer."""
    values = [_number(label) for label in labels]
    if any(v is None or not math.isfinite(v) for v in values):
        return False
    return any(v is not None and v != round(v) for v in values)


def interpret_targets(
    labels: list[str], lines: list[int], target: str, field: str = "file"
) -> tuple[np.ndarray, list[str]]:
    """The third column as classes (y int64 0..k-1, the class names) or as numeric values
    (y float32 [n, 1], no class names), as ``target`` ("auto", "classes", "values") says."""
    if target == "values" or (target == "auto" and is_numeric_target(labels)):
        out = np.empty((len(labels), 1), dtype=np.float32)
        for i, (label, number) in enumerate(zip(labels, lines, strict=True)):
            value = _number(label)
            if value is None or not math.isfinite(value):
                raise ParamError(
                    f"line {number}: the target {label!r} is not a finite number (numeric "
                    "targets were asked for; choose the target type 'classes' for labels)",
                    field,
                )
            if abs(value) > 1e30:
                raise ParamError(
                    f"line {number}: the target {label} is too large: numeric targets must be "
                    "smaller than 1e30 in magnitude",
                    field,
                )
            out[i, 0] = value
        return out, []
    names = sorted(set(labels), key=_sort_key)
    if len(names) < 2:
        raise ParamError(f"the file needs at least 2 classes, found only {names[0]!r}", field)
    if len(names) > MAX_CLASSES:
        raise ParamError(
            f"the file has {len(names)} different labels; at most {MAX_CLASSES} classes are "
            "supported (is the third column a numeric target? choose the target type "
            "'values')",
            field,
        )
    index = {name: i for i, name in enumerate(names)}
    y = np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
    return y, names


def parse_csv(
    data: bytes, max_rows: int, field: str = "file"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parse and validate an uploaded CSV; return (X float32 [n, 2], y int64 [n], class names)."""
    x, labels, lines = read_csv_rows(data, max_rows, field)
    y, names = interpret_targets(labels, lines, "classes", field)
    return x, y, names
