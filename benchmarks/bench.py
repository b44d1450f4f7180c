"""nnscratch against PyTorch (CPU), scikit-learn's MLPClassifier and the matrix-multiply floor.

One run, one machine, the same network, data, optimizer and batch size for everyone:

    python benchmarks/bench.py              # full run (about 3 minutes on 2 cores)
    python benchmarks/bench.py --fast       # smoke run on a small subset (not for quoting)

Reports medians over repeats with min-max, the ratios nnscratch/PyTorch, nnscratch/floor and
scikit-learn/nnscratch, which BLAS library and kernel NumPy used, and thread counts; writes
results.json and results.md into --out. Run it on an otherwise idle machine.
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


def interleaved(runners: dict, repeats: int) -> dict:
    """Epoch seconds of each runner, measured in turns: round r times one epoch of every
    runner, in an order rotated each round. A slow spell of a shared machine then lands on all
    of them rather than on whichever happened to be running, so the ratios stay honest."""
    names = list(runners)
    times: dict = {name: [] for name in names}
    for r in range(repeats):
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
        "memory_mb": None,
    }
    print(
        f"data: {results['data']}; repeats: {repeats}; BLAS: {results['machine']['blas']}",
        flush=True,
    )

    for batch in (32, 128, 512):
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
    lines += [
        "",
        f"Peak resident memory of a full-data training run (load + 1 epoch): {r['memory_mb']:.0f} MB",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
