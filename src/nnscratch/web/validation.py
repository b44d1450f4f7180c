"""Server-side validation of everything a browser (or anyone else) sends to the playground.

Every value is checked here before it reaches the library: a bad value raises
:class:`ParamError`, which the server turns into a 4xx JSON answer (HTTP) or an ``error``
message (WebSocket) naming the parameter and saying what was expected. Nothing a client sends
can crash the server or leave a session half-configured: a request's parameters are all
validated first and applied only when every one of them is valid.

JSON types are taken strictly: a number must be a JSON number (``true`` is not 1, ``"3"`` is
not 3), a list must be a list. Integers may be written as integral floats (``3.0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class ParamError(ValueError):
    """A request the server refuses, with the message shown to the user.

    ``field`` names the parameter at fault (``None`` for the request as a whole); ``status`` is
    the HTTP status to answer with (422 for a bad value, 400 for a malformed request, 404 for
    an unknown session, 409 for an action that does not apply now, 413 for a payload that is
    too large, 503 when the server is full).
    """

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_int(value: Any, name: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (JSON number, integral)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"{name} must be an integer, got {_describe(value)}", name)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ParamError(f"{name} must be an integer, got {_describe(value)}", name)
        value = int(value)
    if not lo <= value <= hi:
        raise ParamError(f"{name} must be between {lo} and {hi}, got {value}", name)
    return int(value)


def as_float(
    value: Any,
    name: str,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite number in the interval [lo, hi] (either end may be open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"{name} must be a number, got {_describe(value)}", name)
    number = float(value)
    if not math.isfinite(number):
        raise ParamError(f"{name} must be a finite number, got {number}", name)
    low_ok = number > lo if lo_open else number >= lo
    high_ok = number < hi if hi_open else number <= hi
    if not (low_ok and high_ok):
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ParamError(f"{name} must be in {interval}, got {number:g}", name)
    return number


def as_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """One of ``choices`` (a string)."""
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        raise ParamError(
            f"{name} must be one of {', '.join(options)}; got {_describe(value)}", name
        )
    return value


def as_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ParamError(f"{name} must be true or false, got {_describe(value)}", name)
    return value


def as_int_list(
    value: Any, name: str, *, min_len: int, max_len: int, lo: int, hi: int
) -> list[int]:
    """A list of integers, each in [lo, hi], of length in [min_len, max_len]."""
    if not isinstance(value, list):
        raise ParamError(f"{name} must be a list of integers, got {_describe(value)}", name)
    if not min_len <= len(value) <= max_len:
        raise ParamError(
            f"{name} must have between {min_len} and {max_len} entries, got {len(value)}", name
        )
    return [as_int(v, f"{name}[{i}]", lo, hi) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Field:
    """One configurable parameter: its validator, and whether it applies live.

    ``live`` parameters (learning rate, regularization, batch size, speed) change a running
    session in place; the others (dataset, architecture...) rebuild it, which resets training.
    ``scope`` says what a change rebuilds: ``"data"`` (new dataset and new model) or
    ``"model"`` (new model on the same data).
    """

    check: Callable[[Any, str], Any]
    live: bool = False
    scope: str = "model"


def validate_update(params: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """Check a partial configuration update; return the validated values.

    ``params`` must be a JSON object whose keys are known parameters. Nothing is applied here:
    the caller applies the returned values only when all of them passed.
    """
    if not isinstance(params, Mapping):
        raise ParamError(
            f"the parameters must be a JSON object, got {type(params).__name__}", status=400
        )
    unknown = sorted(str(k) for k in params if k not in fields)
    if unknown:
        raise ParamError(
            f"unknown parameter {unknown[0]!r}; known parameters: {', '.join(sorted(fields))}",
            unknown[0],
        )
    checked = {}
    for key, value in params.items():
        checked[key] = fields[key].check(value, key)
    return checked
