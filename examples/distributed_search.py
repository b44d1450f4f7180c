"""Distributed hyper-parameter search for an nnscratch network with scikit-learn and Dask.

``GridSearchCV`` is used unchanged: inside ``joblib.parallel_backend("dask")`` its
cross-validation fits run as tasks on the Dask workers. By default this script starts a local
cluster of 2 worker processes (127.0.0.1 only, no dashboard) and shuts it down at the end::

    python examples/distributed_search.py                  # local 2-worker cluster
    python examples/distributed_search.py --serial         # the same search in this process
    python examples/distributed_search.py --scheduler tcp://scheduler:8786   # a real cluster

On a real cluster every worker needs the same Python environment, nnscratch included
(``pip install 'nnscratch[sklearn,distributed]'``). See docs/ecosystem.md for Ray.

Requires: ``pip install 'nnscratch[sklearn,distributed]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np


def build_search(n_jobs: int | None = None):
    """A small grid over an MLP on MNIST digits (a 5,000-image sample)."""
    from sklearn.model_selection import GridSearchCV

    from nnscratch.sklearn import NetClassifier

    estimator = NetClassifier(max_iter=8, batch_size=64, learning_rate_init=0.002, random_state=0)
    grid = {
        "hidden_layer_sizes": [(32,), (64,)],
        "alpha": [1e-4, 1.0],
        "dropout": [0.0, 0.2],
    }
    return GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs, verbose=0)


def load_data() -> tuple[np.ndarray, np.ndarray]:
    from nnscratch.data import load_mnist_sample

    ds = load_mnist_sample(normalize=True)
    return ds.x_train, ds.y_train


def report(search, seconds: float, where: str) -> None:
    print(f"{where}: {len(search.cv_results_['params'])} candidates x 3 folds in {seconds:.1f} s")
    print(f"  best accuracy {search.best_score_:.4f} with {search.best_params_}")
    order = np.argsort(search.cv_results_["rank_test_score"])
    for i in order:
        params = search.cv_results_["params"][i]
        mean = search.cv_results_["mean_test_score"][i]
        std = search.cv_results_["std_test_score"][i]
        print(f"    {mean:.4f} +- {std:.4f}  {params}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler, e.g. tcp://scheduler:8786 "
        "(default: start a local cluster)",
    )
    parser.add_argument("--workers", type=int, default=2, help="local cluster size (default 2)")
    parser.add_argument("--serial", action="store_true", help="run the search in this process")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*maximum iterations")  # 8 epochs, on purpose

    x, y = load_data()
    search = build_search()
    if args.serial:
        started = time.perf_counter()
        search.fit(x, y)
        report(search, time.perf_counter() - started, "serial")
        return 0

    import joblib
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if args.scheduler:
            client = stack.enter_context(Client(args.scheduler))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=args.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        n_workers = len(client.scheduler_info()["workers"])
        print(f"Dask cluster at {client.scheduler.address} with {n_workers} workers")
        started = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(x, y)
        report(search, time.perf_counter() - started, "dask")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
