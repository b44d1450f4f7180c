"""BLAS threads: ``threads="auto"`` runs one thread for small products, inside parallel workers
and on a busy machine; an int fixes the count; the previous setting always comes back."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nnscratch as nn
from nnscratch.training import threads as T


def blas_now() -> int:
    return min(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


class Seen(nn.Callback):
    """Records the BLAS thread count during each epoch."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    def on_epoch_end(self, model, epoch, logs) -> None:
        self.counts.append(blas_now())


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 20)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def model() -> nn.Model:
    return nn.Model(nn.mlp([20, 16, 2], "relu", seed=0), optimizer=nn.Adam(0.01))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "two", "", None, "AUTO "])
def test_a_bad_thread_count_is_one_clear_error(data, bad):
    m = model()
    with pytest.raises(ValueError, match=r"threads must be 'auto' or a positive integer, got"):
        m.fit(*data, threads=bad, verbose=0)
    assert m.epoch == 0 and len(m.history) == 0  # refused before any work
    with pytest.raises(ValueError, match=r"threads must be 'auto' or a positive integer"):
        m.predict(data[0], threads=bad)


@pytest.mark.parametrize(
    ("text", "value"), [("auto", "auto"), (" Auto", "auto"), ("1", 1), ("16", 16)]
)
def test_parse_threads_reads_the_command_line_forms(text, value):
    assert T.parse_threads(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "2.5", "many", ""])
def test_parse_threads_refuses_other_text(text):
    with pytest.raises(ValueError, match=r"expected 'auto' or a positive integer, got"):
        T.parse_threads(text)


def test_largest_product_is_batch_times_the_widest_layer():
    net = nn.mlp([784, 256, 128, 10], "relu", seed=0)
    assert T.largest_product(net, 128) == 128 * 784 * 256
    assert T.predict_product(net, np.zeros((5, 784)), 2048) == 5 * 784 * 256
    assert T.predict_product(net, np.zeros((5000, 784)), 2048) == 2048 * 784 * 256


def test_auto_trains_small_products_on_one_thread_and_restores_the_setting(data):
    seen = Seen()
    with threadpool_limits(2, user_api="blas"):
        model().fit(*data, epochs=2, batch_size=32, callbacks=[seen], verbose=0)
        after = blas_now()
    assert seen.counts == [1, 1]
    assert after == 2


def test_an_int_fixes_the_count_even_for_small_products(data):
    seen = Seen()
    with threadpool_limits(1, user_api="blas"):
        model().fit(*data, epochs=1, callbacks=[seen], threads=2, verbose=0)
        after = blas_now()
    assert seen.counts == [2] and after == 1


def test_use_threads_fixes_every_auto_call_in_its_block(data):
    seen = Seen()
    with threadpool_limits(1, user_api="blas"), T.use_threads(2):
        model().fit(*data, epochs=1, callbacks=[seen], verbose=0)
        assert T.choose_threads("auto", 10) == (2, "fixed")
    assert seen.counts == [2]
    assert T.choose_threads("auto", 10).count == 1


def test_auto_never_raises_the_count_the_library_was_limited_to():
    with threadpool_limits(1, user_api="blas"):
        choice = T.choose_threads("auto", 1 << 40)
    assert choice == (1, "the BLAS library is limited to 1 thread")


def test_auto_is_one_thread_off_the_main_thread():
    choices = []
    with threadpool_limits(2, user_api="blas"):
        worker = threading.Thread(target=lambda: choices.append(T.choose_threads("auto", 1 << 40)))
        worker.start()
        worker.join()
    assert choices == [(1, "inside a parallel worker")]


def test_auto_sees_another_process_busy_and_leaves_it_a_core():
    cores = T.usable_cores()
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 30\nwhile time.time() < end: pass"]
    )
    try:
        busy = T.others_busy(0.2)
        with threadpool_limits(cores, user_api="blas"):
            choice = T.choose_threads("auto", 1 << 40)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy >= 0.5  # the spinner's core (and any other load)
    assert choice.count <= max(1, cores - 1)
    assert "busy with other processes" in choice.reason


def test_overlapping_calls_on_two_threads_run_at_the_smallest_and_restore_the_original():
    entered, release = threading.Event(), threading.Event()
    during: list[int] = []

    def worker():
        with T.blas_threads(1):
            entered.set()
            release.wait(10)

    with threadpool_limits(2, user_api="blas"):
        with T.blas_threads(2):
            during.append(blas_now())
            thread = threading.Thread(target=worker)
            thread.start()
            entered.wait(10)
            during.append(blas_now())  # the other thread's call asked for 1
            release.set()
            thread.join()
            during.append(blas_now())  # back to this thread's 2
        during.append(blas_now())
        with T.blas_threads(1):
            with T.blas_threads(2):  # within one thread the innermost call decides
                during.append(blas_now())
            during.append(blas_now())
    assert during == [2, 1, 2, 2, 2, 1]


def test_predict_and_evaluate_restore_the_setting(data):
    m = model()
    m.fit(*data, epochs=1, verbose=0)
    with threadpool_limits(2, user_api="blas"):
        labels = m.predict(data[0])
        metrics = m.evaluate(*data, threads=1)
        assert blas_now() == 2
    np.testing.assert_array_equal(labels, m.predict(data[0], threads=2))
    assert metrics == m.evaluate(*data)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--threads", "2", "train"], (2, "fixed")),
        (["train", "--threads", "1"], (1, "fixed")),
        (["--threads", "2", "train", "--threads", "1"], (1, "fixed")),
        (["train"], (1, "small products")),
    ],
)
def test_the_command_line_threads_option_reaches_training(argv, expected, tmp_path, monkeypatch):
    from nnscratch.cli.main import main

    choices = []
    real = T.choose_threads

    def spy(*args, **kwargs):
        choices.append(real(*args, **kwargs))
        return choices[-1]

    monkeypatch.setattr(T, "choose_threads", spy)
    run = ["--data", "xor", "--hidden", "8", "--epochs", "2", "--batch-size", "4"]
    run += ["--out", str(tmp_path / "run"), "--no-plots", "--quiet"]
    assert main(argv + run) == 0
    count, reason = choices[0]  # the training run's choice
    assert count == expected[0] and reason.startswith(expected[1])


def test_a_bad_threads_option_is_a_one_line_usage_error():
    for argv in (["--threads", "0", "summary", "m.npz"], ["summary", "m.npz", "--threads", "x"]):
        result = subprocess.run(
            [sys.executable, "-m", "nnscratch", *argv], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert (
            len(lines) == 1
            and "argument --threads: expected 'auto' or a positive integer" in lines[0]
        )


def test_the_benchmark_times_a_contended_row_and_reports_its_ratios():
    """benchmarks/bench.py's contended row on tiny workloads: every contender timed quiet and
    while a second process keeps a core busy, the ratios paired within the round, and
    nnscratch leaving the busy core alone for a product big enough to want several threads."""
    import importlib.util
    import runpy
    from pathlib import Path

    bench = runpy.run_path(str(Path(__file__).parents[2] / "benchmarks" / "bench.py"))
    torch = __import__("torch") if importlib.util.find_spec("torch") else None
    rng = np.random.default_rng(0)
    x = rng.random((512, 784), dtype=np.float32)
    y = rng.integers(0, 10, 512)
    big = [784, 256, 10]  # 512 x 784 x 256 multiply-adds: over SMALL_PRODUCT
    assert T.largest_product(nn.mlp(big, seed=0), 512) >= T.SMALL_PRODUCT
    rows = bench["contended_rows"](
        [("small", x[:64], y[:64], [784, 16, 10], 32), ("big", x, y, big, 512)], torch, repeats=1
    )
    assert list(rows) == ["small", "big"]
    names = ["nnscratch"] + (["pytorch"] if torch else [])
    for row in rows.values():
        for name in names:
            quiet, busy = row[name]["quiet"], row[name]["contended"]
            assert quiet["n"] == busy["n"] == 1 and quiet["median"] > 0 and busy["median"] > 0
            ratio = row["ratios"][f"{name} contended/quiet"]["median"]
            assert ratio == pytest.approx(busy["times"][0] / quiet["times"][0])
    assert rows["small"]["nnscratch_threads"] == {"quiet": [1], "contended": [1]}
    assert rows["big"]["nnscratch_threads"]["contended"][0] <= max(1, T.usable_cores() - 1)
    table = "\n".join(bench["contended_markdown"](rows))
    assert "| small (64 images) |" in table and "nnscratch contended/quiet" in table
    assert bench["contended_markdown"]({}) == []


def test_a_tiny_prediction_leaves_the_setting_alone_and_training_does_not():
    inside = []
    with threadpool_limits(2, user_api="blas"):
        with T.blas_threads("auto", T.TINY_PRODUCT - 1, probe=False) as choice:
            inside.append(blas_now())
        assert choice.reason.startswith("tiny products")
        with T.blas_threads("auto", T.TINY_PRODUCT - 1):
            inside.append(blas_now())
        with T.blas_threads("auto", T.TINY_PRODUCT, probe=False):
            inside.append(blas_now())
    assert inside == [2, 1, 1]
