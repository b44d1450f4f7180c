"""Distributed hyper-parameter search: GridSearchCV unchanged, under joblib's Dask and Ray
backends, gives the same result as the serial search (fixed random_state => deterministic).

Both clusters are local (127.0.0.1 only, no dashboard) and torn down by the tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scikit-learn integration needs scikit-learn")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import nnscratch  # noqa: E402
from nnscratch.sklearn import NetClassifier  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {
    "hidden_layer_sizes": [(8,), (16,)],
    "alpha": [1e-4, 1.0],
    "learning_rate_init": [0.01, 0.03],
}


def _search() -> GridSearchCV:
    estimator = NetClassifier(max_iter=15, batch_size=16, random_state=0)
    return GridSearchCV(estimator, GRID, cv=3)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=150, n_features=8, n_informative=4, n_classes=3, random_state=0
    )


@pytest.fixture(scope="module")
def serial(data) -> GridSearchCV:
    with threadpool_limits(1):  # as on the single-threaded workers
        return _search().fit(*data)


@pytest.fixture
def workers_import_nnscratch(monkeypatch) -> None:
    """Worker processes inherit the environment: make sure they find this nnscratch even when
    it is run from a source tree (PYTHONPATH=src) rather than installed."""
    root = str(Path(nnscratch.__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", root + (os.pathsep + current if current else ""))


def _assert_same_search(result: GridSearchCV, serial: GridSearchCV) -> None:
    assert result.best_params_ == serial.best_params_
    assert result.best_score_ == serial.best_score_
    np.testing.assert_array_equal(
        result.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    for name in ("split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(result.cv_results_[name], serial.cv_results_[name])


def test_grid_search_on_a_dask_cluster_matches_serial(
    data, serial, workers_import_nnscratch
) -> None:
    pytest.importorskip("distributed", reason="needs dask[distributed]")
    import joblib
    from distributed import Client, LocalCluster, get_task_stream

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        search = _search()
        with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            search.fit(*data)
        # the fits ran as tasks on both worker processes
        workers = {task["worker"] for task in tasks.data}
        assert len(workers) == 2
    _assert_same_search(search, serial)
    assert search.best_estimator_.score(*data) > 0.5


def test_grid_search_on_ray_matches_serial(data, serial, workers_import_nnscratch, monkeypatch):
    ray = pytest.importorskip("ray", reason="needs ray")
    import joblib
    from ray.util.joblib import register_ray

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a throw-away local cluster
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
            _node_ip_address="127.0.0.1",
            _temp_dir=temp_dir,
        )
        register_ray()
        search = _search()
        with joblib.parallel_backend("ray"):
            search.fit(*data)
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    _assert_same_search(search, serial)


def test_example_script_runs_on_a_local_cluster(workers_import_nnscratch, capsys, monkeypatch):
    pytest.importorskip("distributed", reason="needs dask[distributed]")
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "distributed_search.py"
    spec = importlib.util.spec_from_file_location("distributed_search_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    tiny = make_classification(n_samples=90, n_features=6, n_informative=3, random_state=1)
    monkeypatch.setattr(example, "load_data", lambda: tiny)  # the grid on 90 samples, not MNIST
    assert example.main([]) == 0
    out = capsys.readouterr().out
    assert "with 2 workers" in out and "best accuracy" in out
