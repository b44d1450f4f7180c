"""What README.md and docs/ecosystem.md say about scikit-learn, Dask, Ray, ONNX and PyTorch,
checked against the installed versions: each test fails when the sentence it names stops
being true.

Claims already covered elsewhere are not repeated here; docs/ecosystem.md names their tests
(for example every MLP parameter and default: tests/ecosystem/test_sklearn_mlp_parity.py;
scikit-learn's estimator checks: tests/ecosystem/test_sklearn_checks.py; the distributed
search equal to the serial one: tests/ecosystem/test_distributed.py; PyTorch as the
oracle: tests/core/test_torch_oracle.py, tests/core/test_conv_torch_oracle.py,
tests/core/test_numerics_oracle.py and tests/training/test_optimizers.py).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ECOSYSTEM = REPO / "docs" / "ecosystem.md"
README = REPO / "README.md"

sklearn = pytest.importorskip("sklearn", reason="the scikit-learn claims need scikit-learn")

from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

from nnscratch.sklearn import NetClassifier, NetRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SKLEARN_VERSION = tuple(int(p) for p in re.findall(r"\d+", sklearn.__version__)[:2])


def _data(n: int = 90, kind: str = "multiclass"):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 5))
    if kind == "regression":
        return X, X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=n)
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)


def _section(page: Path, heading: str) -> str:
    """The text of ``page`` from ``heading`` to the next heading of the same or a higher level."""
    text = page.read_text(encoding="utf-8")
    level = len(heading.split(" ", 1)[0])
    start = text.index(heading + "\n")
    following = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, start + len(heading))
    return text[start : following.start() if following else len(text)]


# -- scikit-learn's MLP ----------------------------------------------------------------------
def test_mlp_takes_sample_weight_since_1_7() -> None:
    """ecosystem.md: "MLPClassifier.fit and MLPRegressor.fit take sample_weight too (since
    scikit-learn 1.7)", so sample weights are not listed among nnscratch's additions."""
    for mlp in (MLPClassifier, MLPRegressor):
        for method in (mlp.fit, mlp.partial_fit):
            has = "sample_weight" in inspect.signature(method).parameters
            assert has == (SKLEARN_VERSION >= (1, 7)), (mlp.__name__, method.__name__)
    assert "sample_weight" in inspect.signature(NetClassifier.fit).parameters
    assert "sample_weight" in inspect.signature(NetRegressor.fit).parameters
    section = _section(ECOSYSTEM, "### What nnscratch adds")
    assert "sample_weight" not in section


def test_what_nnscratch_adds_is_not_an_mlp_parameter() -> None:
    """ecosystem.md, "What nnscratch adds": parameters MLP does not have."""
    section = _section(ECOSYSTEM, "### What nnscratch adds")
    added = ["class_weight", "l2", "layers", "input_shape", "dropout", "batch_norm"]
    added += ["callbacks", "dtype", "threads"]
    for name in added:
        assert f"`{name}`" in section, name
        assert name not in inspect.signature(MLPClassifier).parameters, name
        assert name not in inspect.signature(MLPRegressor).parameters, name
        assert name in inspect.signature(NetRegressor).parameters or name == "class_weight"
        assert name in inspect.signature(NetClassifier).parameters


def test_partial_fit_takes_mlps_arguments_in_mlps_order() -> None:
    """ecosystem.md: the methods take MLP's arguments in MLP's order."""
    for mlp, net in ((MLPClassifier, NetClassifier), (MLPRegressor, NetRegressor)):
        for method in ("fit", "partial_fit", "predict", "score"):
            ours = list(inspect.signature(getattr(net, method)).parameters)
            theirs = list(inspect.signature(getattr(mlp, method)).parameters)
            assert ours == theirs, (net.__name__, method, ours, theirs)


def test_mlp_refuses_early_stopping_in_partial_fit_and_nnscratch_takes_it() -> None:
    """ecosystem.md: "MLP refuses early_stopping=True in partial_fit"; nnscratch holds out a
    validation pool (its behaviour: tests/ecosystem/test_sklearn.py::
    test_partial_fit_with_early_stopping_stops_and_restores)."""
    X, y = _data()
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    clf = NetClassifier(hidden_layer_sizes=(4,), early_stopping=True, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    assert len(clf.validation_scores_) == 1
    from nnscratch.sklearn import MAX_VALIDATION_POOL

    assert MAX_VALIDATION_POOL == 10_000  # as the page says


def test_partial_fit_exists_only_for_stochastic_solvers() -> None:
    """ecosystem.md: partial_fit exists for the stochastic solvers only, as MLPClassifier's;
    MLPRegressor also offers it with solver="lbfgs", NetRegressor does not."""
    X, y = _data(kind="regression")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert MLPRegressor(solver="lbfgs").partial_fit(X, y).n_iter_ >= 1
    for net in (NetClassifier, NetRegressor):
        assert not hasattr(net(solver="lbfgs"), "partial_fit")
        assert hasattr(net(solver="sgd"), "partial_fit")


def test_full_batch_weighted_objective_is_mlps() -> None:
    """ecosystem.md: with sample weights and a full batch (lbfgs, or batch_size >= n) the
    objective is exactly MLP's, sum_i w_i L_i / sum_i w_i + alpha / (2 sum_i w_i) ||W||^2:
    three full-batch gradient steps from the same weights give MLP's weights to rounding."""
    for kind, mlp, net in (
        ("multiclass", MLPClassifier, NetClassifier),
        ("regression", MLPRegressor, NetRegressor),
    ):
        X, y = _data(kind=kind)
        w = np.random.RandomState(1).randint(0, 4, size=len(X)).astype(float)
        params = dict(
            hidden_layer_sizes=(6,),
            activation="tanh",
            solver="sgd",
            momentum=0.0,
            learning_rate_init=0.1,
            alpha=0.05,
            batch_size=len(X),
            shuffle=False,
            max_iter=1,
            warm_start=True,
            random_state=0,
        )
        theirs = mlp(**params).fit(X, y, sample_weight=w)
        ours = net(**params).fit(X, y, sample_weight=w)
        theirs.coefs_ = [c.copy() for c in ours.coefs_]
        theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
        theirs.set_params(max_iter=3).fit(X, y, sample_weight=w)
        ours.set_params(max_iter=3).fit(X, y, sample_weight=w)
        for a, b in zip(
            theirs.coefs_ + theirs.intercepts_, ours.coefs_ + ours.intercepts_, strict=True
        ):
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12, err_msg=kind)


def test_the_last_shorter_batch_keeps_alpha_over_the_batch_size() -> None:
    """ecosystem.md: without weights J is MLP's except in the last, shorter batch of an epoch,
    whose penalty keeps alpha/(2b) where MLP's divides by the batch's own m rows: with 100
    samples in batches of 30 the two agree without a penalty and part with one."""
    X, y = _data(n=100)
    gaps = []
    for alpha in (0.0, 1.0):
        params = dict(
            hidden_layer_sizes=(6,),
            activation="tanh",
            solver="sgd",
            momentum=0.0,
            learning_rate_init=0.1,
            alpha=alpha,
            batch_size=30,
            shuffle=False,
            max_iter=1,
            warm_start=True,
            random_state=0,
        )
        theirs = MLPClassifier(**params).fit(X, y)
        ours = NetClassifier(**params).fit(X, y)
        theirs.coefs_ = [c.copy() for c in ours.coefs_]
        theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
        theirs.set_params(max_iter=3).fit(X, y)
        ours.set_params(max_iter=3).fit(X, y)
        gaps.append(
            max(np.abs(a - b).max() for a, b in zip(theirs.coefs_, ours.coefs_, strict=True))
        )
    assert gaps[0] < 1e-12
    assert gaps[1] > 1e-4


def test_learning_rate_does_not_schedule_adam_in_either() -> None:
    """ecosystem.md: learning_rate schedules every stochastic solver but Adam; MLP applies it
    to "sgd" only, and to Adam neither does."""
    X, y = _data()
    for make in (MLPClassifier, NetClassifier):
        fits = [
            make(hidden_layer_sizes=(4,), learning_rate=rate, max_iter=4, random_state=0)
            .fit(X, y)
            .coefs_
            for rate in ("constant", "invscaling")
        ]
        for a, b in zip(*fits, strict=True):
            np.testing.assert_array_equal(a, b)
    sgd = [
        NetClassifier(
            hidden_layer_sizes=(4,), solver="sgd", learning_rate=rate, max_iter=4, random_state=0
        )
        .fit(X, y)
        .coefs_[0]
        for rate in ("constant", "invscaling")
    ]
    assert not np.array_equal(*sgd)


def test_float32_in_float32_out_in_both() -> None:
    """ecosystem.md: float32 X trains and predicts in float32, anything else in float64, as in
    MLP (ours in detail: tests/ecosystem/test_sklearn_mlp_parity.py::
    test_the_computation_follows_the_input_dtype)."""
    X, y = _data()
    for dtype, expected in ((np.float32, np.float32), (np.float64, np.float64)):
        for make in (MLPClassifier, NetClassifier):
            est = make(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X.astype(dtype), y)
            assert est.coefs_[0].dtype == expected, make
            assert est.predict_proba(X.astype(dtype)).dtype == expected, make


# -- ONNX of a fitted estimator --------------------------------------------------------------
def _run_onnx(estimator, X, tmp_path: Path) -> np.ndarray:
    pytest.importorskip("onnx", reason="needs onnx")
    ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime")
    from nnscratch.onnx import export_onnx

    path = export_onnx(estimator, tmp_path / "estimator.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X.astype(np.float32)})[0]


def test_onnx_of_a_binary_classifier_is_one_column(tmp_path) -> None:
    """ecosystem.md: a two-class NetClassifier exports one output column, the probability of
    classes_[1] (predict_proba's second column)."""
    X, y = _data()
    clf = NetClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, y > 0)
    got = _run_onnx(clf, X, tmp_path)
    assert got.shape == (len(X), 1)
    np.testing.assert_allclose(got[:, 0], clf.predict_proba(X)[:, 1], rtol=1e-5, atol=1e-5)


def test_onnx_of_a_poisson_regressor_is_the_log_mean(tmp_path) -> None:
    """ecosystem.md: a NetRegressor(loss="poisson") exports z = log(mean); predict is e^z."""
    X, _ = _data()
    y = np.random.RandomState(0).poisson(np.exp(0.5 * X[:, 0]))
    reg = NetRegressor("poisson", hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, y)
    got = _run_onnx(reg, X, tmp_path)
    np.testing.assert_allclose(np.exp(got[:, 0]), reg.predict(X), rtol=1e-4)


def test_gelu_is_not_an_operator_before_opset_20() -> None:
    """ecosystem.md: "ONNX opset 17 has no GELU operator (Gelu arrived in opset 20)"."""
    onnx = pytest.importorskip("onnx", reason="needs onnx")
    assert onnx.defs.get_schema("Gelu").since_version == 20
    with pytest.raises(onnx.defs.SchemaError):
        onnx.defs.get_schema("Gelu", 17)


# -- installation ----------------------------------------------------------------------------
def _extra(name: str) -> list[str]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(rf"^{name} = \[(.*?)\]", text, re.MULTILINE)
    assert match, f"pyproject.toml has no extra {name!r}"
    return re.findall(r'"([^"]+)"', match[1])


def test_the_needs_column_is_pyprojects_extras() -> None:
    """ecosystem.md's first table names the packages of each extra, as pyproject.toml does."""
    table = ECOSYSTEM.read_text(encoding="utf-8").split("\n## ", 1)[0]
    lines = [line for line in table.splitlines() if line.startswith("|")][2:]
    rows = {line.split("|")[1].strip(): line.split("|")[3] for line in lines}
    for module, extra in (("`nnscratch.sklearn`", "sklearn"), ("`nnscratch.onnx`", "onnx")):
        for requirement in _extra(extra):
            assert f"`{requirement}`" in rows[module], (module, requirement)
    for requirement in _extra("distributed"):
        assert f"`{requirement}`" in rows["`examples/distributed_search.py`"], requirement
    for requirement in _extra("ray"):
        assert f"`{requirement}`" in table, requirement


def test_pytorch_is_never_a_runtime_dependency() -> None:
    """README: "PyTorch ... is a test oracle and a benchmark peer only, never a runtime
    dependency"."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    runtime = re.search(r"^dependencies = \[(.*?)\]", text, re.MULTILINE | re.DOTALL)
    assert runtime and "torch" not in runtime[1]
    for extra in ("plot", "sklearn", "onnx", "distributed", "ray", "web"):
        assert not any("torch" in r for r in _extra(extra)), extra
    importing = [
        str(path.relative_to(REPO))
        for path in (REPO / "src" / "nnscratch").rglob("*.py")
        if re.search(r"^\s*(import torch|from torch)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert importing == []


# -- distributed search ----------------------------------------------------------------------
def _blas_threads_probe():
    """A function that returns the BLAS thread count where it runs; defined in a function so
    that cloudpickle ships it by value and the workers need not import this test module."""

    def blas_threads() -> int:
        import numpy  # noqa: F401  (loads the BLAS library that threadpoolctl then finds)
        from threadpoolctl import threadpool_info

        return min(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")

    return blas_threads


def test_dask_workers_run_one_blas_thread() -> None:
    """README (Threads) and ecosystem.md: Dask's nanny starts its workers with one BLAS
    thread, the count tests/ecosystem/test_distributed.py gives the serial search."""
    pytest.importorskip("distributed", reason="needs dask[distributed]")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        assert client.submit(_blas_threads_probe()).result() == 1


def _ray_init_keywords(source: str) -> dict[str, object]:
    """The literal keyword arguments of the first ``ray.init(...)`` call in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "init"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "ray"
        ):
            found = {}
            for keyword in node.keywords:
                try:
                    found[keyword.arg] = ast.literal_eval(keyword.value)
                except ValueError:
                    found[keyword.arg] = None
            return found
    raise AssertionError("no ray.init(...) call found")


def test_the_ray_snippet_starts_ray_on_loopback_without_a_dashboard() -> None:
    """The Ray snippet of ecosystem.md starts a local instance as
    tests/ecosystem/test_distributed.py does (which runs the search on it): loopback only, no
    dashboard."""
    section = _section(ECOSYSTEM, "### Ray")
    block = re.search(r"```pycon\n(.*?)```", section, re.DOTALL)
    assert block
    code = "\n".join(
        line[4:] for line in block[1].splitlines() if line.startswith((">>> ", "... "))
    )
    shown = _ray_init_keywords(code)
    tested = _ray_init_keywords((REPO / "tests/ecosystem/test_distributed.py").read_text())
    assert shown["include_dashboard"] is False
    assert shown["_node_ip_address"] == "127.0.0.1"
    for name in ("num_cpus", "include_dashboard", "_node_ip_address"):
        assert shown[name] == tested[name], name


def test_ray_workers_run_one_blas_thread(monkeypatch) -> None:
    """ecosystem.md: Ray starts its workers with one BLAS thread too (the instance as the
    Ray snippet starts it)."""
    ray = pytest.importorskip("ray", reason="needs ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a throw-away local instance
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
        assert ray.get(ray.remote(_blas_threads_probe()).remote()) == 1
        # ecosystem.md: Ray's own servers still listen on every interface, loopback address
        # or not (so the page does not call the instance loopback-only)
        import psutil  # a dependency of dask's distributed, installed with the test extras

        ray_pids = {
            process.pid
            for process in psutil.Process().children(recursive=True)
            if "gcs_server" in process.name() or "raylet" in process.name()
        }
        wildcard = [
            conn.laddr
            for conn in psutil.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
            and conn.pid in ray_pids
            and conn.laddr.ip in ("0.0.0.0", "::")
        ]
        assert ray_pids and wildcard
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_the_serial_search_of_the_distributed_test_pins_one_blas_thread() -> None:
    """ecosystem.md: the distributed search equals the serial one when both run the same
    number of BLAS threads; the test that shows it pins the serial search to one."""
    source = (REPO / "tests/ecosystem/test_distributed.py").read_text(encoding="utf-8")
    assert "with threadpool_limits(1):" in source
    text = _section(ECOSYSTEM, "## Distributed hyper-parameter search")
    assert "same number of BLAS threads" in text


def test_every_fitted_attribute_the_page_names_exists() -> None:
    """ecosystem.md, "Fitted attributes": each ``name_`` it lists is set by fit (and the
    replaced validation_loss_curve_ / best_validation_loss_ are named nowhere)."""
    pd = pytest.importorskip("pandas", reason="feature_names_in_ needs a DataFrame")
    section = _section(ECOSYSTEM, "### Fitted attributes")
    names = set(re.findall(r"`(\w+_)`", section))
    assert {"coefs_", "validation_scores_", "best_validation_score_", "model_"} <= names
    X, y = _data()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    fitted = [
        NetClassifier(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True).fit(frame, y),
        NetRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(frame, X[:, 0]),
    ]
    for name in sorted(names):
        assert any(hasattr(estimator, name) for estimator in fitted), name
    pages = [README, *sorted((REPO / "docs").rglob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    for removed in ("validation_loss_curve_", "best_validation_loss_"):
        assert removed not in text, removed
        assert not any(hasattr(estimator, removed) for estimator in fitted), removed


def test_the_readmes_digits_figure_is_the_tested_one() -> None:
    """README: the conv NetClassifier "reaches over 90% on load_digits (pixels scaled to
    [0, 1], learning_rate_init=0.01, max_iter=15)", the settings under which
    tests/ecosystem/test_sklearn_conv.py::test_conv_classifier_in_a_pipeline asserts it."""
    readme = " ".join(_section(README, "## scikit-learn, ONNX, clusters").split())
    assert 'layers="conv:8x3,relu,maxpool:2,flatten", input_shape=(1, 8, 8)' in readme
    assert "over 90%" in readme and "`learning_rate_init=0.01`, `max_iter=15`" in readme
    source = (REPO / "tests/ecosystem/test_sklearn_conv.py").read_text(encoding="utf-8")
    assert 'SPEC = "conv:8x3,relu,maxpool:2,flatten"' in source
    assert "input_shape=(1, 8, 8), learning_rate_init=0.01, max_iter=15" in source
    assert "return X / 16.0" in source
    assert "assert pipe.score(X_test, y_test) > 0.9" in source


def test_n_iter_counts_the_last_call_as_mlps_does() -> None:
    """ecosystem.md, "Fitted attributes": n_iter_ counts the last call's epochs (1 after
    partial_fit), as MLP's; t_ and loss_curve_ accumulate over the estimator's life in both."""
    X, y = _data()
    for make in (MLPClassifier, NetClassifier):
        streamed = make(hidden_layer_sizes=(4,), random_state=0)
        for _ in range(3):
            streamed.partial_fit(X, y, classes=[0, 1, 2])
        warm = make(hidden_layer_sizes=(4,), max_iter=3, tol=0.0, n_iter_no_change=100)
        warm.set_params(warm_start=True, random_state=0).fit(X, y).fit(X, y)
        assert (streamed.n_iter_, warm.n_iter_) == (1, 3), make
        assert (streamed.t_, warm.t_) == (3 * len(X), 6 * len(X)), make
        assert (len(streamed.loss_curve_), len(warm.loss_curve_)) == (3, 6), make


def test_warm_start_starts_a_fresh_optimizer_as_mlp() -> None:
    """ecosystem.md: a warm-started fit starts from the last weights with a fresh optimizer,
    as MLP's. Both carry the stopping rule's count over: with nothing ever improving by tol,
    the third 2-epoch fit stops after 1 epoch in both."""
    X, y = _data()
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True, random_state=0)
    net = NetClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True, random_state=0)
    first = (mlp.fit(X, y)._optimizer, net.fit(X, y).model_.optimizer)
    assert mlp.fit(X, y)._optimizer is not first[0]
    assert net.fit(X, y).model_.optimizer is not first[1]
    epochs = {}
    for make in (MLPClassifier, NetClassifier):
        estimator = make(
            hidden_layer_sizes=(4,),
            max_iter=2,
            tol=10.0,
            n_iter_no_change=3,
            warm_start=True,
            random_state=0,
        )
        runs = []
        for _ in range(3):
            before = len(getattr(estimator, "loss_curve_", []))
            runs.append(len(estimator.fit(X, y).loss_curve_) - before)
        epochs[make] = runs
    assert epochs[MLPClassifier] == epochs[NetClassifier] == [2, 2, 1]
