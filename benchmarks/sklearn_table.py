"""nnscratch's scikit-learn estimators against scikit-learn's MLP: test score and fit time.

One run, one machine, three data sets; on each, ``NetClassifier``/``NetRegressor`` and
``MLPClassifier``/``MLPRegressor`` are built from the same keyword dict, fitted on the same
training array and scored on the same test array, for 3 seeds (``random_state`` 0, 1, 2):

    python benchmarks/sklearn_table.py                  # full run, float64 (~5 min, 2 cores)
    python benchmarks/sklearn_table.py --dtype float32  # the same arrays as float32
    python benchmarks/sklearn_table.py --smoke          # tiny sizes, one seed (not for quoting)

The data sets, all made on this machine (nothing is downloaded):

* ``digits``: scikit-learn's ``load_digits`` (1,797 8x8 images, 10 classes), X / 16 in [0, 1],
  a stratified 75/25 split.
* ``text``: a SYNTHETIC stand-in for 20 newsgroups (``make_text``): 4,000 documents in 20
  classes, grouped 5/4/4/4/3 like the newsgroups' comp/rec/sci/talk/other hierarchies, over a
  15,000-word vocabulary. A document of length L ~ lognormal (median 80 words) mixes three
  word distributions with Dirichlet weights around (0.78, 0.12, 0.10): the corpus background
  (Zipf, p(rank r) ~ r^-1.07, over the whole vocabulary), its class group's topic (Zipf over
  400 random words) and its class's topic (Zipf over 300 random words). Counts go through
  scikit-learn's ``TfidfTransformer`` (smooth idf, l2 rows) into a CSR matrix of density
  0.45 %; a stratified 75/25 split. Deterministic in its seed.
* ``regression``: ``make_friedman1`` (20,000 x 10, noise 1.0; y = 10 sin(pi x0 x1) +
  20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + N(0, 1), x5..x9 irrelevant), X and y standardised with the
  training part's mean and standard deviation; a 75/25 split. scikit-learn's offline real
  regression sets are too small to time a fit (``load_diabetes``: 442 rows, ``load_linnerud``:
  20) and ``fetch_california_housing`` downloads.

Per data set: the median fit seconds of each (wall clock around ``fit``), the ratio MLP /
nnscratch as the median (min-max) over seeds of the ratio within a seed (the two fits of a
seed run back to back, in an order alternated by seed, so a slow spell of a shared machine
falls on both sides of a ratio), the test score (accuracy; R^2 for the regression) as mean
+- standard deviation over seeds, and each estimator's ``n_iter_`` per seed
(ConvergenceWarning is silenced: ``n_iter_ == max_iter`` says the cap was hit). The targets:
nnscratch's mean score no worse than MLP's within noise (at least MLP's mean less two
standard errors of the difference of the means), and on the dense sets its fit at least 2x
faster (the median ratio). Writes sklearn.md and sklearn.json (sklearn-float32.* with
``--dtype float32``) into --out, and prints the table.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from bench import blas_info, cpu_model, paired_ratio, summary  # noqa: E402


def mlp_parameters() -> frozenset[str]:
    """The parameters the table may set: every parameter of MLPClassifier/MLPRegressor (which
    NetClassifier/NetRegressor take with the same meaning), and nothing nnscratch-only."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    names = set(inspect.signature(MLPClassifier).parameters)
    return frozenset(names | set(inspect.signature(MLPRegressor).parameters))


#: What a scikit-learn user's MLP typically looks like: MLP's defaults, spelled out so that
#: neither estimator's own defaults can differ.
TYPICAL = {
    "hidden_layer_sizes": (100,),
    "activation": "relu",
    "solver": "adam",
    "alpha": 1e-4,
    "batch_size": "auto",
    "learning_rate_init": 1e-3,
    "max_iter": 200,
    "tol": 1e-4,
    "n_iter_no_change": 10,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "shuffle": True,
}

DATASETS = ("digits", "text", "regression")
SEEDS = (0, 1, 2)
SPLIT_SEED = 0  # the train/test split and the generators: fixed, so seeds vary the fit only
ESTIMATORS = ("nnscratch", "mlp")
LABELS = {"nnscratch": "nnscratch", "mlp": "MLP"}


@dataclass
class Dataset:
    """One row of the table: the split arrays, the task and the shared keyword dict."""

    name: str
    description: str
    task: str  # "classification" (accuracy) or "regression" (R^2)
    sparse: bool
    x_train: Any
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    params: dict


# -- data ------------------------------------------------------------------------------------
def make_text(
    n_docs: int = 4000,
    n_words: int = 15_000,
    groups: tuple[int, ...] = (5, 4, 4, 4, 3),
    median_length: int = 80,
    shares: tuple[float, float, float] = (0.78, 0.12, 0.10),
    concentration: float = 20.0,
    topic_words: tuple[int, int] = (400, 300),
    zipf_exponent: float = 1.07,
    seed: int = SPLIT_SEED,
):
    """A synthetic 20-newsgroups-like corpus as a TF-IDF CSR matrix (n_docs x n_words) and
    its labels (class c = i % n_classes, shuffled): see the module docstring. Deterministic in
    ``seed``."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)

    def topic(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # words in rank order and the cumulative Zipf probabilities, to draw by bisection
        weights = 1.0 / np.arange(1, len(words) + 1) ** zipf_exponent
        return words, np.cumsum(weights / weights.sum())

    background = topic(rng.permutation(n_words))
    group_of = np.repeat(np.arange(len(groups)), groups)
    n_classes = len(group_of)
    group_topics = [topic(rng.choice(n_words, topic_words[0], replace=False)) for _ in groups]
    class_topics = [
        topic(rng.choice(n_words, topic_words[1], replace=False)) for _ in range(n_classes)
    ]
    y = np.arange(n_docs) % n_classes
    rng.shuffle(y)
    lengths = np.clip(rng.lognormal(np.log(median_length), 0.6, n_docs).astype(int), 10, 2000)
    mixes = rng.dirichlet(concentration * np.asarray(shares), n_docs)
    rows, cols = [], []
    for i in range(n_docs):
        parts = rng.multinomial(lengths[i], mixes[i])
        sources = (background, group_topics[group_of[y[i]]], class_topics[y[i]])
        for (words, cdf), k in zip(sources, parts, strict=True):
            drawn = np.minimum(np.searchsorted(cdf, rng.random(k)), len(words) - 1)
            cols.append(words[drawn])
            rows.append(np.full(k, i))
    counts = sp.csr_matrix(
        (np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_docs, n_words),
    )
    counts.sum_duplicates()
    return TfidfTransformer().fit_transform(counts).tocsr(), y


def load_datasets(names: list[str], smoke: bool, dtype: type) -> list[Dataset]:
    """The data sets ``names``, split, with X cast to ``dtype`` (the same array for both)."""
    from sklearn.datasets import load_digits, make_friedman1
    from sklearn.model_selection import train_test_split

    # the smoke run: tiny sizes and a few epochs of a small net, to check the plumbing
    smoke_params = {"hidden_layer_sizes": (16,), "max_iter": 3} if smoke else {}
    out = []
    for name in names:
        if name == "digits":
            digits = load_digits()
            x, y = digits.data / 16.0, digits.target
            if smoke:
                x, y = x[:400], y[:400]
            description = f"load_digits, {x.shape[0]:,} x {x.shape[1]} in [0, 1], 10 classes"
        elif name == "text":
            size = {"n_docs": 300, "n_words": 2000} if smoke else {}
            x, y = make_text(**size)
            description = (
                f"synthetic 20-newsgroups-like TF-IDF, {x.shape[0]:,} docs x {x.shape[1]:,} "
                f"words, 20 classes, CSR density {x.nnz / (x.shape[0] * x.shape[1]):.2%}"
            )
        else:
            n = 600 if smoke else 20_000
            x, y = make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=SPLIT_SEED)
            description = f"make_friedman1, {n:,} x 10, noise 1.0, X and y standardised"
        classify = name != "regression"
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=0.25, random_state=SPLIT_SEED, stratify=y if classify else None
        )
        if not classify:
            mean, std = x_train.mean(axis=0), x_train.std(axis=0)
            x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
            y_mean, y_std = y_train.mean(), y_train.std()
            y_train, y_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std
        if name == "text":
            x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
        else:
            x_train = np.ascontiguousarray(x_train, dtype)
            x_test = np.ascontiguousarray(x_test, dtype)
        out.append(
            Dataset(
                name=name,
                description=description,
                task="classification" if classify else "regression",
                sparse=name == "text",
                x_train=x_train,
                y_train=y_train,
                x_test=x_test,
                y_test=y_test,
                params={**TYPICAL, **smoke_params},
            )
        )
    return out


# -- fitting ---------------------------------------------------------------------------------
def estimator_classes(task: str) -> dict[str, type]:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from nnscratch.sklearn import NetClassifier, NetRegressor

    if task == "classification":
        return {"nnscratch": NetClassifier, "mlp": MLPClassifier}
    return {"nnscratch": NetRegressor, "mlp": MLPRegressor}


def weights_dtype(estimator: Any) -> str | None:
    """The dtype of the first weight matrix the estimator trained (what it computed in)."""
    coefs = getattr(estimator, "coefs_", None)
    return str(coefs[0].dtype) if coefs else None


def fit_once(cls: type, params: dict, seed: int, data: Dataset) -> dict:
    """Build ``cls(**params, random_state=seed)``, time its ``fit`` on the training part and
    score it on the test part. A failed fit is recorded (its one-line message), not raised,
    so that one estimator's missing feature leaves the other's numbers standing."""
    from sklearn.exceptions import ConvergenceWarning

    estimator = cls(**params, random_state=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            estimator.fit(data.x_train, data.y_train)
            seconds = time.perf_counter() - t0
        score = float(estimator.score(data.x_test, data.y_test))
    except Exception as exc:  # noqa: BLE001 - reported in the table, see the docstring
        return {"seed": seed, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return {
        "seed": seed,
        "seconds": seconds,
        "score": score,
        "n_iter": int(estimator.n_iter_),
        "dtype": weights_dtype(estimator),
    }


def run_dataset(
    data: Dataset,
    seeds: tuple[int, ...],
    classes: dict[str, type] | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """Every estimator on ``data`` for each seed, the two fits of a seed back to back (the
    order alternated by seed), after an untimed warm-up fit of each; then the row's summary
    (``summarise``)."""
    classes = classes or estimator_classes(data.task)
    if set(data.params) - mlp_parameters():
        raise ValueError(
            f"{data.name}: parameters MLP does not have: {set(data.params) - mlp_parameters()}"
        )
    # an untimed one-epoch fit of each on a few rows first: the one-off costs of a first fit
    # in the process (lazy imports, thread-pool discovery) are not a fit's cost
    few = replace(data, x_train=data.x_train[:64], y_train=data.y_train[:64])
    for cls in classes.values():
        fit_once(cls, {**data.params, "max_iter": 1}, 0, few)
    runs: dict[str, list[dict]] = {name: [] for name in ESTIMATORS}
    for i, seed in enumerate(seeds):
        order = ESTIMATORS if i % 2 == 0 else ESTIMATORS[::-1]
        for name in order:
            run = fit_once(classes[name], data.params, seed, data)
            runs[name].append(run)
            if "error" in run:
                progress(f"{data.name} seed {seed} {LABELS[name]}: FAILED {run['error']}")
            else:
                progress(
                    f"{data.name} seed {seed} {LABELS[name]}: {run['seconds']:.2f}s, "
                    f"score {run['score']:.4f}, n_iter_ {run['n_iter']}"
                )
    row = summarise(runs)
    row.update(
        description=data.description,
        task=data.task,
        sparse=data.sparse,
        n_train=int(data.x_train.shape[0]),
        n_test=int(data.x_test.shape[0]),
        n_features=int(data.x_train.shape[1]),
        x_dtype=str(data.x_train.dtype),
        params={k: list(v) if isinstance(v, tuple) else v for k, v in data.params.items()},
        classes={name: cls.__name__ for name, cls in classes.items()},
    )
    return row


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Per estimator: fit seconds (``bench.summary``: median, min, max, per seed), test score
    mean and standard deviation (n - 1 in the denominator; 0 for one seed), ``n_iter_`` per
    seed, or the first error; the paired ratio MLP / nnscratch; and the two targets."""
    row: dict = {"runs": runs}
    for name, rs in runs.items():
        failed = [r for r in rs if "error" in r]
        if failed:
            row[name] = {"error": failed[0]["error"]}
            continue
        scores = [r["score"] for r in rs]
        row[name] = {
            "seconds": summary([r["seconds"] for r in rs]),
            "score_mean": statistics.fmean(scores),
            "score_std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "n_iter": [r["n_iter"] for r in rs],
            # speed apart from convergence: the estimators may stop after different epochs
            "epoch_seconds": statistics.median(r["seconds"] / r["n_iter"] for r in rs),
            "dtype": rs[0]["dtype"],
        }
    ok = all("error" not in row[name] for name in ESTIMATORS)
    row["ratio"] = paired_ratio(row["mlp"]["seconds"], row["nnscratch"]["seconds"]) if ok else None
    row["score_ok"] = score_no_worse(row["nnscratch"], row["mlp"], len(runs["mlp"])) if ok else None
    row["speed_ok"] = row["ratio"]["median"] >= 2.0 if ok else None
    return row


def score_no_worse(ours: dict, theirs: dict, n: int) -> bool:
    """nnscratch's mean score is at least MLP's less two standard errors of the difference of
    the two means, 2 sqrt((s_ours^2 + s_mlp^2) / n), over n seeds each."""
    noise = 2.0 * math.sqrt((ours["score_std"] ** 2 + theirs["score_std"] ** 2) / n)
    return ours["score_mean"] >= theirs["score_mean"] - noise


# -- reporting -------------------------------------------------------------------------------
def machine() -> dict:
    """What the numbers depend on: CPU, versions, BLAS library and kernel, thread settings."""
    import scipy
    import sklearn

    import nnscratch

    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "nnscratch": nnscratch.__version__,
        "blas": blas_info(),
        # the thread and kernel settings a user may have exported change the timings
        "env": {
            k: v
            for k, v in sorted(os.environ.items())
            if k.startswith(("OPENBLAS_", "OMP_", "MKL_")) and k != "OPENBLAS_VERBOSE"
        },
        "date": time.strftime("%Y-%m-%d"),
    }


def _verdict(ok: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[ok]


def markdown(results: dict) -> str:
    """The table and its notes, as Markdown."""
    m = results["machine"]
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')} kernel, "
        f"{b.get('num_threads')} threads)"
        for b in m["blas"]
        if "internal_api" in b
    )
    env = ", ".join(f"{k}={v}" for k, v in m["env"].items()) or "no OPENBLAS_/OMP_/MKL_ settings"
    load = results["load"]
    lines = [
        f"Machine: {m['cpus']} cores, {m['processor']}, Python {m['python']}, NumPy "
        f"{m['numpy']}, SciPy {m['scipy']}, scikit-learn {m['sklearn']}, nnscratch "
        f"{m['nnscratch']}, BLAS: {blas or m['blas']}; {env}. {m['date']}.",
        f"Load average (1 min) {load['start']:.2f} at the start, {load['end']:.2f} at the end "
        f"on {m['cpus']} cores."
        + (
            " The machine was BUSY: rerun on an idle machine for figures to quote."
            # the start: what else ran in the minute before (the end counts this run too)
            if load["start"] >= 1.0
            else ""
        ),
        f"Each estimator built from the same keyword dict per data set with random_state "
        f"{', '.join(map(str, results['seeds']))}, fitted on the same {results['dtype']} "
        "arrays; fit seconds: median over seeds (min-max); MLP/nnscratch: median (min-max) over "
        "seeds of the ratio within a seed; score: test accuracy (R^2 for the regression), "
        "mean +- standard deviation over seeds; n_iter_ per seed. Threads as a user has them: "
        "MLP on its BLAS's default count, nnscratch on its default threads='auto'."
        + (" SMOKE RUN: tiny sizes, not for quoting." if results["smoke"] else ""),
        "",
        "| data set | nnscratch fit (s) | MLP fit (s) | MLP/nnscratch | nnscratch score "
        "| MLP score | nnscratch n_iter_ | MLP n_iter_ | score no worse | 2x faster |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    for name, row in results["datasets"].items():
        cells = []
        for est in ESTIMATORS:
            r = row[est]
            cells.append(
                "failed"
                if "error" in r
                else f"{r['seconds']['median']:.2f} ({r['seconds']['min']:.2f}-{r['seconds']['max']:.2f})"
            )
        ratio = row["ratio"]
        cells.append(
            f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})" if ratio else "-"
        )
        for est in ESTIMATORS:
            r = row[est]
            cells.append("-" if "error" in r else f"{r['score_mean']:.4f} +- {r['score_std']:.4f}")
        for est in ESTIMATORS:
            r = row[est]
            cells.append("-" if "error" in r else ", ".join(map(str, r["n_iter"])))
        cells.append(_verdict(row["score_ok"]))
        cells.append("n/a (sparse)" if row["sparse"] else _verdict(row["speed_ok"]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        notes.append(
            f"- {name}: {row['description']}; {row['n_train']:,} training / {row['n_test']:,} "
            f"test rows; {row['classes']['nnscratch']} vs {row['classes']['mlp']}, both with "
            # JSON holds hidden_layer_sizes as a list; show it as the tuple that was passed
            + ", ".join(
                f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in row["params"].items()
            )
            + "."
        )
        if row["ratio"]:
            ours, mlp = row["nnscratch"]["epoch_seconds"], row["mlp"]["epoch_seconds"]
            notes.append(
                f"- {name}, per epoch (median over seeds of fit seconds / n_iter_): nnscratch "
                f"{ours * 1000:.1f} ms, MLP {mlp * 1000:.1f} ms, MLP/nnscratch {mlp / ours:.2f}x."
            )
        for est in ESTIMATORS:
            if "error" in row[est]:
                notes.append(f"- {name}: {LABELS[est]} could not fit: {row[est]['error']}")
    lines += ["", *notes]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so no reader sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one seed: a smoke test")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the results")
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="dtype of the X arrays passed to both estimators (default float64)",
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma-separated subset of {','.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (default 3; smoke: 1)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        parser.error(
            f"--datasets: unknown data set(s) {', '.join(unknown) or '(none given)'}; "
            f"expected a comma-separated subset of {', '.join(DATASETS)}"
        )
    n_seeds = args.seeds if args.seeds is not None else (1 if args.smoke else len(SEEDS))
    if n_seeds < 1:
        parser.error(f"--seeds must be at least 1, got {n_seeds}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file; expected a folder for the results")
    dtype = np.float32 if args.dtype == "float32" else np.float64

    results: dict = {
        "machine": machine(),
        "load": {"start": os.getloadavg()[0]},
        "smoke": args.smoke,
        "dtype": args.dtype,
        "seeds": list(range(n_seeds)),
        "datasets": {},
    }
    print(f"seeds {results['seeds']}, {args.dtype}; BLAS: {results['machine']['blas']}", flush=True)
    for data in load_datasets(names, args.smoke, dtype):
        results["datasets"][data.name] = run_dataset(
            data, tuple(results["seeds"]), progress=lambda s: print(s, flush=True)
        )
    results["load"]["end"] = os.getloadavg()[0]

    table = markdown(results)
    out.mkdir(parents=True, exist_ok=True)
    stem = "sklearn" if args.dtype == "float64" else "sklearn-float32"
    write_atomically(out / f"{stem}.json", json.dumps(results, indent=2) + "\n")
    write_atomically(out / f"{stem}.md", table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
