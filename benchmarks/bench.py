"""nnscratch against PyTorch (CPU), scikit-learn's MLPClassifier and the matrix-multiply floor.

One run, one machine, the same network, data, optimizer and batch size for everyone:

    python benchmarks/bench.py              # full run (about 6 minutes on 2 cores)
    python benchmarks/bench.py --fast       # smoke run on a small subset (not for quoting)

Reports medians over repeats with min-max, the ratios nnscratch/PyTorch, nnscratch/floor and
scikit-learn/nnscratch, which BLAS library and kernel NumPy used, and thread counts; writes
results.json and results.md into --out. The convolutional section (Saito's SimpleConvNet and a
LeNet-5-sized net, batch 32 and 128, training and inference, against PyTorch's oneDNN
convolution and the floor of the same matrix products; about 2-3 minutes) adds a profile of
where nnscratch's convolutional training step spends its time. Run it on an otherwise idle machine: the contended rows
make their own load (a second process that keeps one core busy, stopped after each round).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import nnscratch as nn  # noqa: E402
from nnscratch.data import load_mnist, load_mnist_sample  # noqa: E402

SIZES = [784, 256, 128, 10]


# -- data ------------------------------------------------------------------------------------
def mnist(fast: bool):
    if not fast:
        try:
            ds = load_mnist(
                os.environ.get("NNSCRATCH_DATA"), normalize=True, download=False, progress=False
            )
            return (
                ds.x_train,
                ds.y_train.astype(np.int64),
                ds.x_test,
                ds.y_test.astype(np.int64),
                "MNIST",
            )
        except Exception as exc:  # noqa: BLE001 - fall back, and say so
            print(f"full MNIST not found ({exc}); using the bundled sample", file=sys.stderr)
    ds = load_mnist_sample(normalize=True)
    return (
        ds.x_train,
        ds.y_train.astype(np.int64),
        ds.x_test,
        ds.y_test.astype(np.int64),
        "MNIST sample",
    )


# -- timed workloads -------------------------------------------------------------------------
def nnscratch_model(
    sizes=SIZES, activation="relu", optimizer=None, loss="softmax_cross_entropy", seed=0
):
    return nn.Model(
        nn.mlp(sizes, activation, seed=seed), loss=loss, optimizer=optimizer or nn.Adam(1e-3)
    )


def nnscratch_epochs(x, y, batch, **kwargs):
    """A function that trains one more epoch and returns its seconds (after a warm-up)."""
    model = nnscratch_model(**kwargs)
    model.fit(x, y, epochs=1, batch_size=batch, seed=0, verbose=0)  # warm-up

    def epoch():
        model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
        return model.history["seconds"][-1]

    return epoch


def torch_setup(threads):
    import torch

    torch.set_num_threads(threads)
    return torch


def torch_net(torch, sizes, activation):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def torch_epoch(torch, net, opt, tx, ty, batch, gen):
    order = torch.randperm(len(tx), generator=gen)
    loss_fn = torch.nn.functional.cross_entropy
    for start in range(0, len(tx), batch):
        idx = order[start : start + batch]
        opt.zero_grad(set_to_none=True)
        loss_fn(net(tx[idx]), ty[idx]).backward()
        opt.step()


def torch_epochs(torch, x, y, batch, sizes=SIZES, activation="relu", lr=1e-3, sgd=False):
    torch.manual_seed(0)
    net = torch_net(torch, sizes, activation)
    opt = (
        torch.optim.SGD(net.parameters(), lr=lr)
        if sgd
        else torch.optim.Adam(net.parameters(), lr=lr)
    )
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    torch_epoch(torch, net, opt, tx, ty, batch, gen)  # warm-up
    return lambda: _timed(lambda: torch_epoch(torch, net, opt, tx, ty, batch, gen))


def floor_epochs(x, batch):
    """The same matrix multiplies as one training epoch, in bare NumPy, nothing else:
    3 forward products, 3 weight-gradient products, 2 input-gradient products per batch."""
    rng = np.random.default_rng(0)
    ws = [
        rng.normal(scale=0.05, size=(a, b)).astype(np.float32)
        for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)
    ]
    n = len(x) - len(x) % batch
    acts = [np.empty((batch, w.shape[1]), np.float32) for w in ws]
    grads = [np.empty_like(w) for w in ws]
    dx = [np.empty((batch, w.shape[0]), np.float32) for w in ws]

    def epoch():
        for start in range(0, n, batch):
            xb = x[start : start + batch]
            np.matmul(xb, ws[0], out=acts[0])
            np.matmul(acts[0], ws[1], out=acts[1])
            np.matmul(acts[1], ws[2], out=acts[2])
            np.matmul(acts[1].T, acts[2], out=grads[2])
            np.matmul(acts[2], ws[2].T, out=dx[2])
            np.matmul(acts[0].T, dx[2], out=grads[1])
            np.matmul(dx[2], ws[1].T, out=dx[1])
            np.matmul(xb.T, dx[1], out=grads[0])

    epoch()  # warm-up
    return lambda: _timed(epoch)


def sklearn_epochs(x, y, batch):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    # alpha=0: no L2 penalty, the same plain Adam the others run (sklearn's default 1e-4 would
    # change the updates, though not the work per step, which adds alpha * W either way)
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(SIZES[1:-1]),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=batch,
        learning_rate_init=1e-3,
        random_state=0,
        shuffle=True,
    )

    def partial_fit(**kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(x, y, **kwargs)

    partial_fit(classes=np.arange(10))  # warm-up
    return lambda: _timed(partial_fit)


def interleaved(runners: dict, repeats: int, budget: float | None = None) -> dict:
    """Epoch seconds of each runner, measured in turns: round r times one epoch of every
    runner, in an order rotated each round. A slow spell of a shared machine then lands on all
    of them rather than on whichever happened to be running, so the ratios stay honest.
    With a ``budget``, rounds stop early once they have taken that many seconds (at least one
    round)."""
    names = list(runners)
    times: dict = {name: [] for name in names}
    started = time.perf_counter()
    for r in range(repeats):
        if r and budget is not None and time.perf_counter() - started > budget:
            break
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(runners[name]())
    return {name: summary(t) for name, t in times.items()}


def paired_ratio(a: dict | None, b: dict | None) -> dict | None:
    """a/b from two contenders timed in the same rounds: the median (and min-max) over rounds
    of the within-round ratio a_r / b_r. A slow spell of a shared machine that lasts a round
    slows both sides of that round's ratio, so it cancels out; in a ratio of the two medians
    it does not when it falls on different rounds for a and b."""
    if not a or not b:
        return None
    ratios = [x / y for x, y in zip(a["times"], b["times"], strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def print_times(label: str, row: dict) -> None:
    """One progress line: each contender's median epoch seconds."""
    times = (f"{k} {v['median']:.3f}s" for k, v in row.items() if k != "ratios")
    print(f"{label}: " + ", ".join(times), flush=True)


# -- convolutional workload ------------------------------------------------------------------
CONV_BUDGET = 120  # seconds for the convolutional rounds (warm-ups and profile not counted)
CONV_TRAIN = 10_000  # training images per epoch in the full run (1,000 in the smoke run)


def conv_layers(name: str) -> list:
    """Saito's SimpleConvNet (his chapter 7) or a LeNet-5-sized net, as nnscratch layers."""
    if name == "SimpleConvNet":
        return [
            nn.Conv2D(30, 5, activation="relu"),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(100, "relu"),
            nn.Dense(10),
        ]
    return [
        nn.Conv2D(6, 5, padding=2, activation="relu"),
        nn.MaxPool2D(2),
        nn.Conv2D(16, 5, activation="relu"),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(120, "relu"),
        nn.Dense(84, "relu"),
        nn.Dense(10),
    ]


CONV_NETS = {
    "SimpleConvNet": "conv 30 5x5 ReLU, max-pool 2, dense 100 ReLU, dense 10",
    "LeNet-5": "conv 6 5x5 pad 2 ReLU, max-pool 2, conv 16 5x5 ReLU, max-pool 2, "
    "dense 120 ReLU, dense 84 ReLU, dense 10",
}


def conv_model(name: str) -> nn.Model:
    net = nn.Sequential(conv_layers(name), input_shape=(1, 28, 28), seed=0)
    return nn.Model(net, loss="softmax_cross_entropy", optimizer=nn.Adam(1e-3))


def torch_conv_net(torch, name: str):
    t = torch.nn
    if name == "SimpleConvNet":
        layers = [t.Conv2d(1, 30, 5), t.ReLU(), t.MaxPool2d(2), t.Flatten()]
        layers += [t.Linear(30 * 12 * 12, 100), t.ReLU(), t.Linear(100, 10)]
    else:
        layers = [t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2)]
        layers += [t.Conv2d(6, 16, 5), t.ReLU(), t.MaxPool2d(2), t.Flatten()]
        layers += [t.Linear(16 * 5 * 5, 120), t.ReLU(), t.Linear(120, 84), t.ReLU()]
        layers += [t.Linear(84, 10)]
    return t.Sequential(*layers)


def conv_epochs(name: str, x4, y, batch):
    """nnscratch: a function that trains one more epoch and returns its seconds."""
    model = conv_model(name)
    model.fit(x4, y, epochs=1, batch_size=batch, seed=0, verbose=0)  # warm-up

    def epoch():
        model.fit(x4, y, epochs=1, batch_size=batch, verbose=0)
        return model.history["seconds"][-1]

    return epoch, model


def torch_conv_epochs(torch, name: str, x4, y, batch):
    torch.manual_seed(0)
    net = torch_conv_net(torch, name)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x4), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    torch_epoch(torch, net, opt, tx, ty, batch, gen)  # warm-up
    return lambda: _timed(lambda: torch_epoch(torch, net, opt, tx, ty, batch, gen))


def conv_products(network, batch: int, training: bool = True) -> list:
    """The matrix products of one step of ``network`` on ``batch`` samples, as the engine
    runs them, each a (a, b, out) triple for ``np.matmul(a, b, out=out)`` on random float32
    operands of the same shapes. Per Conv2D (K = C*kh*kw, P = OH*OW, F filters): the forward
    W_col (F x K) @ X_col (N x K x P); training adds the weight gradient G (N x F x P) @
    X_col^T (N x P x K) and, except in the first layer (training skips its input gradient),
    the input gradient W_col^T (K x F) @ G (N x F x P). Per Dense (n x a -> b): X W, and in
    training X^T dZ and dZ W^T (the first layer's again skipped)."""
    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    products = []
    for i, layer in enumerate(network.layers):
        if isinstance(layer, nn.Conv2D):
            c = layer.input_shape[0]
            f, oh, ow = layer.output_shape
            k, p = c * layer.kernel_size[0] * layer.kernel_size[1], oh * ow
            cols, w, g = rand(batch, k, p), rand(f, k), rand(batch, f, p)
            products.append((w, cols, np.empty((batch, f, p), np.float32)))
            if training:
                products.append((g, cols.transpose(0, 2, 1), np.empty((batch, f, k), np.float32)))
                if i:
                    products.append((w.T, g, np.empty((batch, k, p), np.float32)))
        elif isinstance(layer, nn.Dense):
            a, b = layer.W.value.shape
            xb, w, dz = rand(batch, a), rand(a, b), rand(batch, b)
            products.append((xb, w, np.empty((batch, b), np.float32)))
            if training:
                products.append((xb.T, dz, np.empty((a, b), np.float32)))
                if i:
                    products.append((dz, w.T, np.empty((batch, a), np.float32)))
    return products


def conv_floor(network, n: int, batch: int, training: bool = True, threads: int = 1):
    """The floor: the matrix products (``conv_products``) of a pass over ``n`` samples in
    batches of ``batch`` (the last one smaller, as the others run it) in bare NumPy, with no
    im2col or col2im copies, padding, pooling, activations or optimizer; on ``threads`` BLAS
    threads, nnscratch's choice, so that nnscratch/floor measures what the rest costs and not
    a different thread count (on a busy machine two threads can be many times slower)."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    full, rest = divmod(n, batch)
    steps = [conv_products(network, batch, training)] * full
    if rest:
        steps.append(conv_products(network, rest, training))

    def epoch():
        with controller.limit(limits=threads, user_api="blas"):
            for products in steps:
                for a, b, out in products:
                    np.matmul(a, b, out=out)

    epoch()  # warm-up
    return lambda: _timed(epoch)


class _LayerClock:
    """Seconds spent in each layer type's forward and backward, and in the im2col, col2im and
    padding copies inside Conv2D, while installed: wraps the layers' bound methods and the
    convolution module's copy functions with ``time.perf_counter``, and restores them on exit."""

    COPIES = ("im2col", "col2im", "pad_into")

    def __init__(self, network):
        self.network = network
        self.seconds: dict = {}

    def _wrap(self, fn, key):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0

        return timed

    def __enter__(self):
        from nnscratch.core.layers import convolution

        self._module = convolution
        self._saved = {name: getattr(convolution, name) for name in self.COPIES}
        for name, fn in self._saved.items():
            setattr(convolution, name, self._wrap(fn, name))
        for layer in self.network.layers:
            kind = type(layer).__name__
            layer.forward = self._wrap(layer.forward, f"{kind} forward")
            layer.backward = self._wrap(layer.backward, f"{kind} backward")
        return self

    def __exit__(self, *exc):
        for name, fn in self._saved.items():
            setattr(self._module, name, fn)
        for layer in self.network.layers:
            del layer.forward, layer.backward  # the class's methods show through again
        return False


def conv_profile(model: nn.Model, x4, y, batch: int, batches: int) -> dict:
    """Where an nnscratch training step's time goes: ``batches`` steps at ``batch`` timed with
    ``_LayerClock``; seconds per step for each layer type's forward and backward (Conv2D's
    less its im2col, col2im and padding copies, which get rows of their own), and the rest of
    the step (loss, optimizer update, batch gather) as the epoch's time less all of those."""
    n = batch * batches
    with _LayerClock(model.network) as clock:
        model.fit(x4[:n], y[:n], epochs=1, batch_size=batch, verbose=0)
    total = model.history["seconds"][-1]
    s = clock.seconds
    s["Conv2D forward"] = s.get("Conv2D forward", 0.0) - s.get("im2col", 0.0)
    s["Conv2D forward"] -= s.get("pad_into", 0.0)
    s["Conv2D backward"] = s.get("Conv2D backward", 0.0) - s.get("col2im", 0.0)
    s["rest of step (loss, optimizer, batch gather)"] = total - sum(s.values())
    names = {
        "Conv2D forward": "Conv2D forward (product, bias, ReLU)",
        "Conv2D backward": "Conv2D backward (ReLU', products, sums over the batch)",
        "im2col": "Conv2D im2col copy",
        "col2im": "Conv2D col2im copy",
        "pad_into": "Conv2D padding copy",
    }
    return {
        "batch": batch,
        "steps": batches,
        "step_seconds": total / batches,
        "parts": {names.get(k, k): v / batches for k, v in s.items()},
    }


def conv_section(torch, x, y, xt, fast: bool, repeats: int, budget: float = CONV_BUDGET):
    """The convolutional rows: per network, a training epoch on the first CONV_TRAIN images
    at batch 32 and 128, and inference on the test images, for nnscratch, PyTorch and the
    floor, in turns; then a profile of nnscratch's step at batch 128."""
    from nnscratch.core.network import PREDICT_BATCH
    from nnscratch.training.threads import choose_threads, largest_product

    n = 1000 if fast else CONV_TRAIN
    x4 = np.ascontiguousarray(x[:n].reshape(-1, 1, 28, 28), np.float32)
    y4 = y[:n]
    xt4 = np.ascontiguousarray(xt.reshape(-1, 1, 28, 28), np.float32)
    workloads = len(CONV_NETS) * 3
    section: dict = {
        "train_images": len(x4),
        "test_images": len(xt4),
        "predict_batch": PREDICT_BATCH,
        "mkldnn": bool(torch.backends.mkldnn.is_available()) if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "nets": {},
    }
    for name in CONV_NETS:
        rows: dict = {"training": {}, "nnscratch_threads": {}}
        for batch in (32, 128):
            ours, model = conv_epochs(name, x4, y4, batch)
            product = largest_product(model.network, min(batch, len(x4)))
            count = choose_threads("auto", product).count
            rows["nnscratch_threads"][str(batch)] = count
            runners = {
                "nnscratch": ours,
                "floor": conv_floor(model.network, len(x4), batch, threads=count),
            }
            if torch is not None:
                runners["pytorch"] = torch_conv_epochs(torch, name, x4, y4, batch)
            row = interleaved(runners, repeats, budget / workloads)
            row["ratios"] = {
                "nnscratch/pytorch": paired_ratio(row["nnscratch"], row.get("pytorch")),
                "nnscratch/floor": paired_ratio(row["nnscratch"], row["floor"]),
            }
            rows["training"][str(batch)] = row
            print_times(f"{name} batch {batch}", row)
            if batch == 128:
                rows["profile"] = conv_profile(model, x4, y4, batch, 3 if fast else 20)
        chunks = [xt4[i : i + PREDICT_BATCH] for i in range(0, len(xt4), PREDICT_BATCH)]
        batch = min(PREDICT_BATCH, len(xt4))
        count = choose_threads("auto", largest_product(model.network, batch)).count
        rows["nnscratch_threads"]["inference"] = count
        runners = {
            "nnscratch": lambda m=model: _timed(lambda: m.predict_proba(xt4)),
            "floor": conv_floor(model.network, len(xt4), batch, False, threads=count),
        }
        model.predict_proba(xt4)  # warm-up
        if torch is not None:
            net = torch_conv_net(torch, name).eval()
            tchunks = [torch.from_numpy(c) for c in chunks]

            def run(net=net, tchunks=tchunks):
                with torch.no_grad():
                    return [torch.softmax(net(c), dim=1) for c in tchunks]

            run()
            runners["pytorch"] = lambda run=run: _timed(run)
        row = interleaved(runners, repeats, budget / workloads)
        row["ratios"] = {
            "nnscratch/pytorch": paired_ratio(row["nnscratch"], row.get("pytorch")),
            "nnscratch/floor": paired_ratio(row["nnscratch"], row["floor"]),
        }
        rows["inference"] = row
        print_times(f"{name} inference", row)
        section["nets"][name] = rows
    section["target_met"] = conv_target(section)
    return section


def conv_target(section: dict) -> bool | None:
    """Whether nnscratch's batch-128 training epoch was no slower than PyTorch's (median of
    the paired ratios at most 1) for every network; None without PyTorch."""
    ratios = [
        rows["training"]["128"]["ratios"]["nnscratch/pytorch"] for rows in section["nets"].values()
    ]
    if any(r is None for r in ratios):
        return None
    return all(r["median"] <= 1.0 for r in ratios)


# -- contention ------------------------------------------------------------------------------
SPIN_SECONDS = 300  # a spinner left behind by a killed bench stops by itself after this
CONTENDED_BUDGET = 150  # seconds for the contended rows' rounds; at least one round each


def spinner() -> subprocess.Popen:
    """A second process that keeps one core busy (a pure-Python loop), for at most
    SPIN_SECONDS: what a browser tab or another user's job does to a laptop or shared server."""
    code = (
        f"import time\nend = time.monotonic() + {SPIN_SECONDS}\nwhile time.monotonic() < end: pass"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def contended_row(runners: dict, threads_of, repeats: int, budget: float) -> dict:
    """Epoch seconds of each runner on the quiet machine and while ``spinner()`` keeps a core
    busy, in turns: round r times every runner quiet, then starts the spinner, waits for it to
    take its core, times every runner again and stops it. Rounds go on until ``repeats`` or
    ``budget`` seconds (at least one). ``threads_of()`` gives nnscratch's thread choice, recorded
    at the start of each state."""
    names = list(runners)
    times: dict = {(name, state): [] for name in names for state in ("quiet", "contended")}
    chosen: dict = {"quiet": [], "contended": []}
    started = time.perf_counter()
    for r in range(repeats):
        if r and time.perf_counter() - started > budget:
            break
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        chosen["quiet"].append(threads_of())
        for name in order:
            times[name, "quiet"].append(runners[name]())
        spin = spinner()
        try:
            # the spinner's interpreter starts, and nnscratch's last look at the machine
            # (reused for 1 s) goes stale
            time.sleep(1.5)
            chosen["contended"].append(threads_of())
            for name in order:
                times[name, "contended"].append(runners[name]())
        finally:
            spin.kill()
            spin.wait()
    row: dict = {
        name: {state: summary(times[name, state]) for state in ("quiet", "contended")}
        for name in names
    }
    row["nnscratch_threads"] = chosen
    ratios = {
        f"{name} contended/quiet": paired_ratio(row[name]["contended"], row[name]["quiet"])
        for name in names
    }
    ratios["nnscratch/pytorch contended"] = paired_ratio(
        row["nnscratch"]["contended"], row.get("pytorch", {}).get("contended")
    )
    ratios["nnscratch/pytorch quiet"] = paired_ratio(
        row["nnscratch"]["quiet"], row.get("pytorch", {}).get("quiet")
    )
    row["ratios"] = ratios
    return row


def contended_rows(workloads: list, torch, repeats: int, budget: float = CONTENDED_BUDGET):
    """The contended rows: each workload (label, x, y, sizes, batch) for nnscratch and PyTorch
    (its thread count left as it is, as a user would have it)."""
    from nnscratch.training.threads import choose_threads, largest_product

    rows = {}
    for label, x, y, sizes, batch in workloads:
        runners = {"nnscratch": nnscratch_epochs(x, y, batch, sizes=sizes)}
        if torch is not None:
            runners["pytorch"] = torch_epochs(torch, x, y, batch, sizes=sizes)
        product = largest_product(nn.mlp(sizes, seed=0), min(batch, len(x)))
        row = contended_row(
            runners,
            lambda: choose_threads("auto", product).count,  # noqa: B023 - called within the loop
            repeats,
            budget / len(workloads),
        )
        row["data"] = f"{len(x):,} images"
        rows[label] = row
        print_contended(label, row)
    return rows


def print_contended(label: str, row: dict) -> None:
    parts = [
        f"{name} {row[name]['quiet']['median']:.3f}s quiet, "
        f"{row[name]['contended']['median']:.3f}s contended"
        for name in ("nnscratch", "pytorch")
        if name in row
    ]
    print(f"contended {label}: " + "; ".join(parts), flush=True)


def time_to_accuracy(train_epoch, evaluate, target=0.98, max_epochs=20):
    """Training seconds (evaluation excluded) until test accuracy first reaches ``target``."""
    spent = 0.0
    for epoch in range(1, max_epochs + 1):
        spent += train_epoch()
        acc = evaluate()
        if acc >= target:
            return spent, epoch, acc
    return float("nan"), max_epochs, acc


def peak_memory_mb(fast: bool) -> float:
    """Resident-memory peak of a child process that loads MNIST and trains one epoch."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-probe"] + (
        ["--fast"] if fast else []
    )
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def memory_probe(fast: bool) -> None:
    x, y, _, _, _ = mnist(fast)
    model = nnscratch_model()
    model.fit(x, y, epochs=1, batch_size=128, seed=0, verbose=0)
    # VmHWM is this address space's peak; getrusage's ru_maxrss would carry over the peak of
    # the (PyTorch-laden) parent through fork.
    status = Path("/proc/self/status").read_text()
    peak_kib = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")
    )
    print(peak_kib / 1024)


# -- reporting -------------------------------------------------------------------------------
def summary(times):
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "n": len(times),
        "times": list(times),
    }


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        info = [
            {
                k: lib.get(k)
                for k in ("internal_api", "version", "architecture", "num_threads", "filepath")
            }
            for lib in threadpool_info()
            if lib.get("user_api") == "blas"
        ]
        return info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast", action="store_true", help="small subset, one repeat: a smoke test"
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        memory_probe(args.fast)
        return 0
    repeats = args.repeats or (1 if args.fast else 7)
    x, y, xt, yt, data_name = mnist(args.fast)
    if args.fast:
        x, y, xt, yt = x[:2000], y[:2000], xt[:500], yt[:500]
    x, xt = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(xt, np.float32)
    try:
        torch = torch_setup(args.threads)
    except ImportError:
        torch = None
        print(
            "PyTorch not installed: its columns are empty (pip install torch==2.13.0)",
            file=sys.stderr,
        )
    try:
        import sklearn  # noqa: F401

        have_sklearn = True
    except ImportError:
        have_sklearn = False
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "processor": cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "torch_threads": args.threads,
            "blas": blas_info(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "date": time.strftime("%Y-%m-%d"),
        },
        "data": f"{data_name}, {len(x):,} training images",
        "repeats": repeats,
        "fast": args.fast,
        "training": {},
        "nielsen": {},
        "inference": {},
        "time_to_98": {},
        "contended": {},
        "conv": {},
        "nnscratch_threads": {},
        "memory_mb": None,
    }
    print(
        f"data: {results['data']}; repeats: {repeats}; BLAS: {results['machine']['blas']}",
        flush=True,
    )

    from nnscratch.training.threads import choose_threads, largest_product

    for batch in (32, 128, 512):
        product = largest_product(nn.mlp(SIZES, seed=0), min(batch, len(x)))
        results["nnscratch_threads"][str(batch)] = choose_threads("auto", product).count
        runners = {"nnscratch": nnscratch_epochs(x, y, batch), "floor": floor_epochs(x, batch)}
        if torch is not None:
            runners["pytorch"] = torch_epochs(torch, x, y, batch)
        if have_sklearn and batch == 128:
            runners["sklearn"] = sklearn_epochs(x, y, batch)
        row = interleaved(runners, repeats)
        row["ratios"] = {
            "nnscratch/pytorch": paired_ratio(row["nnscratch"], row.get("pytorch")),
            "nnscratch/floor": paired_ratio(row["nnscratch"], row["floor"]),
            "sklearn/nnscratch": paired_ratio(row.get("sklearn"), row["nnscratch"]),
        }
        results["training"][str(batch)] = row
        print_times(f"batch {batch}", row)

    sample = load_mnist_sample(normalize=True)
    xs = np.ascontiguousarray(sample.x_train[: 1000 if args.fast else None], np.float32)
    ys = sample.y_train[: len(xs)].astype(np.int64)
    n_big = min(len(x), 10_000)
    results["contended"] = contended_rows(
        [
            ("bundled sample, 784-128-10, batch 32", xs, ys, [784, 128, 10], 32),
            (f"{data_name}, 784-256-128-10, batch 128", x[:n_big], y[:n_big], SIZES, 128),
        ],
        torch,
        repeats,
    )

    nielsen = {"sizes": [784, 30, 10], "activation": "sigmoid"}
    runners = {"nnscratch": nnscratch_epochs(x, y, 10, optimizer=nn.SGD(0.5), **nielsen)}
    if torch is not None:
        runners["pytorch"] = torch_epochs(torch, x, y, 10, lr=0.5, sgd=True, **nielsen)
    row = interleaved(runners, max(1, repeats // 2 + 1))
    row["ratios"] = {"nnscratch/pytorch": paired_ratio(row["nnscratch"], row.get("pytorch"))}
    results["nielsen"] = row
    print_times("nielsen 784-30-10 batch 10", row)

    model = nnscratch_model()
    model.fit(x, y, epochs=1, batch_size=128, seed=0, verbose=0)
    calls = 20 if args.fast else 200
    whole = {"nnscratch": lambda: _timed(lambda: model.predict_proba(xt))}
    single = {"nnscratch": lambda: _timed(lambda: model.predict_proba(xt[:1]))}
    if torch is not None:
        net = torch_net(torch, SIZES, "relu").eval()
        txt = torch.from_numpy(xt)

        def run(b):
            with torch.no_grad():
                return torch.softmax(net(b), dim=1)

        run(txt)
        whole["pytorch"] = lambda: _timed(lambda: run(txt))
        single["pytorch"] = lambda: _timed(lambda: run(txt[:1]))
    model.predict_proba(xt)  # warm-up
    by_batch = {
        "batch_10000": interleaved(whole, repeats * 3),
        "batch_1": interleaved(single, calls),
    }
    inf = {name: {key: row[name] for key, row in by_batch.items()} for name in by_batch["batch_1"]}
    inf["ratios"] = {
        key: {"nnscratch/pytorch": paired_ratio(row["nnscratch"], row.get("pytorch"))}
        for key, row in by_batch.items()
    }
    results["inference"] = inf

    target = 0.9 if args.fast else 0.98
    ours = nnscratch_model()
    to98 = {
        "nnscratch": time_to_accuracy(
            lambda: (
                ours.fit(x, y, epochs=1, batch_size=128, seed=0, verbose=0),
                ours.history["seconds"][-1],
            )[1],
            lambda: ours.evaluate(xt, yt)["accuracy"],
            target,
        )
    }
    if torch is not None:
        torch.manual_seed(0)
        tnet = torch_net(torch, SIZES, "relu")
        topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
        tx, ty, txt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xt)
        gen = torch.Generator().manual_seed(0)

        def t_epoch():
            return _timed(lambda: torch_epoch(torch, tnet, topt, tx, ty, 128, gen))

        def t_eval():
            with torch.no_grad():
                return float((tnet(txt).argmax(1).numpy() == yt).mean())

        to98["pytorch"] = time_to_accuracy(t_epoch, t_eval, target)
    results["time_to_98"] = {
        k: {"seconds": v[0], "epochs": v[1], "accuracy": v[2], "target": target}
        for k, v in to98.items()
    }
    results["memory_mb"] = peak_memory_mb(args.fast)
    results["conv"] = conv_section(torch, x, y, xt, args.fast, repeats)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results) + "\n")
    print(markdown(results))
    return 0


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def floor_spread(training: dict) -> float:
    """The largest max/min of the floor's epoch times over the batch sizes: pure matrix
    multiplies do the same work every round, so their spread measures the machine's noise."""
    return max(row["floor"]["max"] / row["floor"]["min"] for row in training.values())


def _quietness(r: dict) -> list[str]:
    if r["repeats"] < 3:
        return []  # too few rounds to tell noise from work
    spread = floor_spread(r["training"])
    if spread <= 1.15:
        return [
            f"The machine was quiet: the floor's epoch time varied by at most {spread - 1:.0%}."
        ]
    return [
        f"The machine was NOT quiet: the floor's epoch time (the same matrix multiplies every "
        f"round) varied by up to {spread - 1:.0%} between rounds. Memory-bound work (optimizer "
        "passes, batch gathers) slows down more than matrix multiplies in such spells, so the "
        "ratios to the floor read high; rerun on an idle machine for figures to quote."
    ]


def _ratio(ratio: dict | None) -> str:
    """A paired ratio as "median (min-max)"."""
    if not ratio:
        return "-"
    return f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})"


def markdown(r):
    m = r["machine"]
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')} kernel, "
        f"{b.get('num_threads')} threads)"
        for b in m["blas"]
        if "internal_api" in b
    )
    lines = [
        f"Machine: {m['cpus']} cores, {m['processor']}, Python {m['python']}, NumPy {m['numpy']}, "
        f"PyTorch {m['torch']} ({m['torch_threads']} threads), BLAS: {blas or m['blas']}. {m['date']}.",
        f"Data: {r['data']}. Times: medians of {r['repeats']} repeats (min-max), the contenders timed in turns, one epoch each per round. Ratios: the median (min-max) over rounds of the ratio within a round, so that a slow spell of the machine falls on both sides of a ratio.{' FAST SMOKE RUN.' if r['fast'] else ''}",
        *_quietness(r),
        "",
        "Training, 784-256-128-10 ReLU, softmax cross-entropy, Adam, float32: seconds per epoch",
        "",
        "| batch | nnscratch | PyTorch | floor (matmuls) | scikit-learn | nnscratch/PyTorch | nnscratch/floor | sklearn/nnscratch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    cell = lambda s: f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})" if s else "-"  # noqa: E731
    for batch, row in r["training"].items():
        ours, pt, fl, sk = (row.get(k) for k in ("nnscratch", "pytorch", "floor", "sklearn"))
        ratios = row["ratios"]
        lines.append(
            f"| {batch} | {cell(ours)} | {cell(pt)} | {cell(fl)} | {cell(sk)} | "
            f"{_ratio(ratios['nnscratch/pytorch'])} | {_ratio(ratios['nnscratch/floor'])} | "
            f"{_ratio(ratios['sklearn/nnscratch'])} |"
        )
    chosen = r.get("nnscratch_threads") or {}
    if chosen:
        per_batch = ", ".join(f"{count} at batch {batch}" for batch, count in chosen.items())
        lines += [
            "",
            f'nnscratch\'s BLAS threads (`threads="auto"`, chosen at the start of each row): '
            f"{per_batch}. The floor and PyTorch run on their libraries' default thread counts.",
        ]
    n = r["nielsen"]
    lines += [
        "",
        "Nielsen's 784-30-10 sigmoid, SGD, mini-batch 10: seconds per epoch",
        "",
        "| nnscratch | PyTorch | nnscratch/PyTorch |",
        "| --- | --- | --- |",
        f"| {cell(n.get('nnscratch'))} | {cell(n.get('pytorch'))} | "
        f"{_ratio(n['ratios']['nnscratch/pytorch'])} |",
    ]
    inf = r["inference"]
    lines += [
        "",
        "Inference on the test images (softmax probabilities)",
        "",
        "| | nnscratch | PyTorch | nnscratch/PyTorch |",
        "| --- | --- | --- | --- |",
    ]
    for key, label in (
        ("batch_10000", "all test images in one batch (s)"),
        ("batch_1", "one image (latency, s)"),
    ):
        ours = inf["nnscratch"][key]
        pt = inf.get("pytorch", {}).get(key)
        theirs = f"{pt['median']:.6f}" if pt else "-"
        lines.append(
            f"| {label} | {ours['median']:.6f} | {theirs} | "
            f"{_ratio(inf['ratios'][key]['nnscratch/pytorch'])} |"
        )
    t = r["time_to_98"]
    lines += [
        "",
        f"Time to {t['nnscratch']['target']:.0%} test accuracy (batch 128, Adam 1e-3; training time only)",
        "",
        "| | seconds | epochs | accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for k, v in t.items():
        lines.append(f"| {k} | {v['seconds']:.2f} | {v['epochs']} | {v['accuracy']:.4f} |")
    lines += contended_markdown(r.get("contended") or {})
    lines += conv_markdown(r.get("conv") or {})
    lines += [
        "",
        f"Peak resident memory of a full-data training run (load + 1 epoch): {r['memory_mb']:.0f} MB",
    ]
    return "\n".join(lines)


def contended_markdown(rows: dict) -> list[str]:
    """The contended rows as a Markdown table (none: no lines)."""
    if not rows:
        return []
    cell = lambda s: f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})" if s else "-"  # noqa: E731
    lines = [
        "",
        "Contended: one training epoch while a second process keeps one core busy (a Python "
        "loop the bench starts before and stops after each round's contended epochs), against "
        "the same epoch on the machine as it was; seconds per epoch. PyTorch keeps its default "
        'thread count, as a user would have it; nnscratch its default `threads="auto"`.',
        "",
        "| workload | nnscratch quiet | nnscratch contended | PyTorch quiet | PyTorch contended "
        "| nnscratch contended/quiet | PyTorch contended/quiet | nnscratch/PyTorch contended "
        "| nnscratch threads (quiet; contended) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, row in rows.items():
        ours, pt, ratios = row["nnscratch"], row.get("pytorch") or {}, row["ratios"]
        chosen = row["nnscratch_threads"]
        lines.append(
            f"| {label} ({row['data']}) | {cell(ours['quiet'])} | {cell(ours['contended'])} | "
            f"{cell(pt.get('quiet'))} | {cell(pt.get('contended'))} | "
            f"{_ratio(ratios['nnscratch contended/quiet'])} | "
            f"{_ratio(ratios.get('pytorch contended/quiet'))} | "
            f"{_ratio(ratios['nnscratch/pytorch contended'])} | "
            f"{','.join(map(str, chosen['quiet']))}; {','.join(map(str, chosen['contended']))} |"
        )
    return lines


def conv_markdown(section: dict) -> list[str]:
    """The convolutional rows: a table per network, the target line and the profile of
    nnscratch's training step (no section: no lines)."""
    if not section:
        return []
    cell = lambda s: f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})" if s else "-"  # noqa: E731
    mkldnn = {True: "enabled", False: "NOT available", None: "-"}[section["mkldnn"]]
    lines = [
        "",
        f"Convolutional networks on MNIST: a training epoch on the first "
        f"{section['train_images']:,} training images (a subset, so that a round stays short; "
        "softmax cross-entropy, Adam 1e-3, float32, shuffled), and inference (softmax "
        f"probabilities) on {section['test_images']:,} test images in batches of "
        f"{section['predict_batch']:,} (nnscratch's default), seconds. PyTorch: torch.nn.Conv2d "
        f"etc. on the CPU, {section['torch_threads']} threads, oneDNN (mkldnn) {mkldnn}. Floor: "
        "the same matrix products as nnscratch's im2col steps (convolution forward, weight- and "
        "input-gradient products, dense products) in bare NumPy, without the im2col/col2im "
        "copies, padding, pooling, activations or optimizer.",
    ]
    for name, rows in section["nets"].items():
        lines += [
            "",
            f"{name} ({CONV_NETS.get(name, '')})",
            "",
            "| workload | nnscratch | PyTorch | floor (matmuls) | nnscratch/PyTorch "
            "| nnscratch/floor |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        labelled = [(f"training, batch {b}", row) for b, row in rows["training"].items()]
        labelled.append(("inference", rows["inference"]))
        for label, row in labelled:
            ratios = row["ratios"]
            lines.append(
                f"| {label} | {cell(row.get('nnscratch'))} | {cell(row.get('pytorch'))} | "
                f"{cell(row.get('floor'))} | {_ratio(ratios['nnscratch/pytorch'])} | "
                f"{_ratio(ratios['nnscratch/floor'])} |"
            )
        threads = ", ".join(
            f"{c} {'in inference' if b == 'inference' else f'at batch {b}'}"
            for b, c in rows["nnscratch_threads"].items()
        )
        lines += [
            "",
            f'nnscratch\'s BLAS threads (`threads="auto"`, chosen before each row; the floor '
            f"runs on the same count): {threads}.",
        ]
    at128 = {
        name: rows["training"]["128"]["ratios"]["nnscratch/pytorch"]
        for name, rows in section["nets"].items()
    }
    verdict = {True: "holds", False: "is NOT met", None: "cannot be checked (no PyTorch)"}
    lines += [
        "",
        f"Target (nnscratch's training epoch no slower than PyTorch's at batch 128) "
        f"{verdict[conv_target(section)]}: nnscratch/PyTorch "
        + ", ".join(f"{name} {_ratio(ratio)}" for name, ratio in at128.items())
        + ".",
    ]
    for name, rows in section["nets"].items():
        prof = rows["profile"]
        lines += [
            "",
            f"Where nnscratch's {name} training step goes (batch {prof['batch']}, "
            f"{prof['steps']} steps timed with perf_counter around each layer's forward and "
            f"backward; {prof['step_seconds'] * 1000:.1f} ms per step)",
            "",
            "| part | ms per step | share |",
            "| --- | --- | --- |",
        ]
        for part, seconds in sorted(prof["parts"].items(), key=lambda kv: -kv[1]):
            lines.append(
                f"| {part} | {seconds * 1000:.2f} | {seconds / prof['step_seconds']:.0%} |"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
