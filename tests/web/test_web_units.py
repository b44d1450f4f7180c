"""Unit tests of the playground's pieces that need no web server (no optional packages)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from nnscratch.web import Settings
from nnscratch.web.csvdata import parse_csv
from nnscratch.web.playground import DATASETS, DEFAULTS, PRESETS, PlaygroundSession, make_dataset
from nnscratch.web.sessions import Cursor, Curves, to_uint8
from nnscratch.web.validation import ParamError, as_float, as_int, as_int_list


def test_import_needs_no_optional_packages() -> None:
    import nnscratch.web as web

    assert callable(web.serve) and callable(web.start_server) and callable(web.create_app)
    assert "nnscratch[web]" in web.INSTALL_HINT


def test_curves_stay_bounded_and_evenly_spaced() -> None:
    curves = Curves(("loss",), max_points=100)
    cursor = Cursor()
    first = curves.delta(cursor)
    assert first["reset"] and first["epochs"] == []
    for epoch in range(10_000):
        curves.add(epoch, loss=1.0 / (epoch + 1))
    assert len(curves.epochs) <= 101
    assert curves.epochs[0] == 0
    gaps = np.diff(curves.epochs)
    assert gaps.min() == gaps.max() == curves.stride  # evenly spaced after thinning
    again = curves.delta(cursor)
    assert again["reset"] is True and again["epochs"] == curves.epochs
    curves.add(10_000 + curves.stride - 10_000 % curves.stride, loss=0.0)
    tail = curves.delta(cursor)
    assert tail["reset"] is False and len(tail["epochs"]) == 1
    curves.add(1, loss=float("nan"))  # not on the stride: dropped
    curves.add(curves.epochs[-1] + curves.stride, loss=float("inf"))
    assert curves.values["loss"][-1] is None  # JSON-safe


def test_to_uint8_handles_flat_and_nan_values() -> None:
    assert to_uint8(np.array([1.0, 1.0]), 1.0, 1.0).tolist() == [128, 128]
    assert to_uint8(np.array([0.0, 0.5, 1.0, 2.0, np.nan]), 0.0, 1.0).tolist() == [
        0,
        128,
        255,
        255,
        0,
    ]


@pytest.mark.parametrize("name", DATASETS)
def test_generated_datasets_lie_in_the_playground_square(name: str) -> None:
    config = {**DEFAULTS, "dataset": name, "n_points": 500, "noise": 1.0, "classes": 4}
    x, y, classes = make_dataset(config)
    assert x.shape == (500, 2) and x.dtype == np.float32
    assert y.min() == 0 and y.max() == len(classes) - 1
    assert np.abs(x).max() < 4.0
    x2, y2, _ = make_dataset(config)
    np.testing.assert_array_equal(x, x2)  # the seed decides the data
    np.testing.assert_array_equal(y, y2)


def test_presets_are_complete_and_valid() -> None:
    session = None
    for name, preset in PRESETS.items():
        assert set(preset) == set(DEFAULTS), name
        session = PlaygroundSession("t" * 24, Settings(), threading.Semaphore(1), preset)
        session.close()
    assert session is not None


@pytest.mark.parametrize(
    ("text", "rows", "classes"),
    [
        ("x1,x2,label\n0,0,a\n1,1,b\n2,2,a\n3,3,b\n", 4, ["a", "b"]),
        ("\ufeff# comment\n0;0;1\n1;1;2\n\n2;2;1\n3;3;10\n", 4, ["1", "2", "10"]),
        ("0\t0\t0\n1\t1\t1\n2\t2\t0\n3\t3\t1\n", 4, ["0", "1"]),
        ('"0","0","x"\n"1","1","y"\n2,2,x\n3,3,y\n', 4, ["x", "y"]),
    ],
)
def test_csv_formats(text: str, rows: int, classes: list[str]) -> None:
    x, y, names = parse_csv(text.encode("utf-8"), max_rows=100)
    assert x.shape == (rows, 2)
    assert names == classes
    assert y.max() == len(classes) - 1


def test_csv_header_only_once() -> None:
    with pytest.raises(ParamError, match="line 3"):
        parse_csv(b"a,b,c\n0,0,0\nx1,x2,label\n1,1,1\n", max_rows=100)


def test_validators_are_strict_about_types() -> None:
    assert as_int(3.0, "n", 0, 5) == 3
    for bad in (True, "3", 3.5, None, float("nan")):
        with pytest.raises(ParamError):
            as_int(bad, "n", 0, 5)
    for bad in (float("inf"), "1", [1]):
        with pytest.raises(ParamError):
            as_float(bad, "x", 0.0, 10.0)
    with pytest.raises(ParamError, match=r"\(0, 1\]"):
        as_float(0.0, "x", 0.0, 1.0, lo_open=True)
    with pytest.raises(ParamError, match="between 1 and 2 entries"):
        as_int_list([], "h", min_len=1, max_len=2, lo=1, hi=3)


def _full_mnist_dir() -> Path | None:
    from tests.conftest import mnist_dir

    return mnist_dir()


def test_digits_on_full_mnist_where_available() -> None:
    from nnscratch.web.digits import DigitsSession, MnistCache

    folder = _full_mnist_dir()
    if folder is None:
        pytest.skip("full MNIST not found (set NNSCRATCH_DATA to a folder with the IDX files)")
    cache = MnistCache(str(folder))
    session = DigitsSession("d" * 24, Settings(), threading.Semaphore(1), {"source": "full"}, cache)
    try:
        metrics = session.state()["metrics"]
        assert (metrics["n_train"], metrics["n_test"]) == (60_000, 10_000)
        assert metrics["dataset"] == "mnist"
        assert cache.status()["full"] is True
    finally:
        session.close()
