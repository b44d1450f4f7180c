"""The training loop, on the seeds' experiments and on MNIST."""

import io
import re

import numpy as np
import pytest
from tests.conftest import mnist_dir

import nnscratch as nn
from nnscratch.core.layers import Layer
from nnscratch.data.toy import five_clusters, truth_table


def test_seed_003_truth_table_two_layer_sigmoid_sse():
    # X1 X2 X3 -> y: 001->0, 011->1, 101->1, 111->0; 1500 iterations of full-batch descent.
    # The article updates W by 2 (y - y^) sigma'(.) per step: our SSE is 1/2 sum (a - y)^2, whose
    # gradient is (a - y), so its step is learning rate 2.
    x, y = truth_table()
    net = nn.mlp([3, 4, 1], "sigmoid", output_activation="sigmoid", seed=1, dtype=np.float64)
    model = nn.Model(net, loss="sse", optimizer=nn.SGD(2.0))
    history = model.fit(x, y.reshape(-1, 1), epochs=1500, batch_size=4, shuffle=False, verbose=0)
    prediction = model.predict(x).ravel()
    np.testing.assert_allclose(prediction, [0, 1, 1, 0], atol=0.05)
    losses = np.array(history["loss"])
    assert np.all(np.diff(losses) < 0), "the loss must decrease monotonically"


def test_seed_000_multiclass_perceptron_on_five_clusters_is_about_half_right():
    x, y = five_clusters(2000, seed=0)
    x_test, y_test = five_clusters(2000, seed=1)
    perceptron = nn.Model(nn.mlp([2, 5], seed=0), loss="mse", optimizer=nn.SGD(0.1))
    perceptron.fit(x, y, epochs=200, batch_size=len(x), verbose=0)  # plain (full-batch) descent
    linear_acc = perceptron.evaluate(x_test, y_test)["accuracy"]
    assert 0.40 <= linear_acc <= 0.62  # the article: about 50%; the diagonal class defeats it

    hidden = nn.Model(nn.mlp([2, 64, 5], "relu", seed=0), optimizer=nn.Adam(0.01))
    hidden.fit(x, y, epochs=60, batch_size=32, seed=0, verbose=0)
    assert hidden.evaluate(x_test, y_test)["accuracy"] > linear_acc + 0.25


def test_every_epoch_visits_every_sample_exactly_once():
    seen = []

    class Recorder(Layer):
        def forward(self, x, training=False):
            if training:
                seen.append(x[:, 0].copy())
            return x

        def backward(self, grad_output, need_input_grad=True):
            return grad_output

    x = np.arange(103, dtype=np.float32).reshape(-1, 1) * np.ones((1, 2), np.float32)
    y = np.arange(103) % 2
    model = nn.Model(nn.Sequential([Recorder(), nn.Dense(2)], 2, seed=0), optimizer=nn.SGD(0.01))
    model.fit(x, y, epochs=3, batch_size=10, seed=0, verbose=0)
    epochs = np.split(np.concatenate(seen), 3)
    for order in epochs:
        assert sorted(order.tolist()) == list(range(103))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled each epoch


def test_history_logs_and_validation_split():
    x, y = five_clusters(600, seed=0)
    model = nn.Model(nn.mlp([2, 16, 5], "tanh", seed=0), optimizer=nn.Adam(0.01))
    history = model.fit(x, y, epochs=3, batch_size=64, validation_split=0.2, seed=0, verbose=0)
    assert history.epochs == [1, 2, 3]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(s > 0 for s in history["seconds"])
    assert history["loss"][-1] < history["loss"][0]
    # a second call continues the epoch count
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert model.history.epochs == [1, 2, 3, 4, 5] and model.epoch == 5


def test_same_seed_gives_bitwise_identical_runs():
    x, y = five_clusters(500, seed=3)

    def train():
        layers = [nn.Dense(32, "relu"), nn.Dropout(0.2), nn.Dense(5)]
        model = nn.Model(nn.Sequential(layers, 2, seed=5), optimizer=nn.Adam(0.01))
        model.fit(x, y, epochs=4, batch_size=16, seed=11, verbose=0)
        return model

    a, b = train(), train()
    np.testing.assert_array_equal(a.network.flat_parameter.value, b.network.flat_parameter.value)
    for key in ("loss", "accuracy"):  # everything but the wall-clock seconds
        assert a.history[key] == b.history[key]


def test_divergence_guard_stops_with_a_clear_message_and_finite_weights():
    x, y = five_clusters(500, seed=0)
    x = x * 100
    model = nn.Model(nn.mlp([2, 32, 5], "relu", seed=0), loss="mse", optimizer=nn.SGD(5.0))
    with pytest.raises(nn.TrainingDivergedError) as info:
        model.fit(x, y, epochs=50, batch_size=50, seed=0, verbose=0)
    message = str(info.value)
    assert "epoch 1, batch" in message and "last finite loss" in message
    assert "left in the finite state it had before epoch 1, batch 1." in message
    assert "learning rate" in message and "softmax_cross_entropy" in message
    assert np.isfinite(model.network.flat_parameter.value).all()
    assert np.isfinite(model.predict_raw(x[:5] / 100)).all()


def test_fit_rejects_bad_input_with_named_arguments():
    model = nn.Model(nn.mlp([2, 4, 3], seed=0))
    x = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        model.fit(x, np.zeros(9, int), verbose=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        model.fit(x, np.full(10, 3), verbose=0)
    with pytest.raises(ValueError, match="3 features per sample"):
        model.fit(np.zeros((10, 3)), np.zeros(10, int), verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.fit(x, np.zeros(10, int), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((10, 2), np.nan), np.zeros(10, int), verbose=0)
    with pytest.raises(ValueError, match="either validation_data or validation_split"):
        model.fit(
            x,
            np.zeros(10, int),
            validation_split=0.2,
            validation_data=(x, np.zeros(10, int)),
            verbose=0,
        )
    with pytest.raises(ValueError, match="y_val"):
        model.fit(x, np.zeros(10, int), validation_data=(x, np.full(10, 7)), verbose=0)


def test_progress_is_silent_off_terminal_and_prints_lines_on_request():
    x, y = five_clusters(200, seed=0)
    model = nn.Model(nn.mlp([2, 8, 5], seed=0))
    stream = io.StringIO()
    from nnscratch.training.progress import Progress

    progress = Progress("auto", stream=stream, bar_stream=stream)
    assert not progress.bar_on and not progress.lines
    progress = Progress(1, stream=stream)
    progress.end_epoch(1, 2, {"loss": 0.5, "accuracy": 0.75, "seconds": 0.1})
    assert "epoch   1/2  loss 0.5000  accuracy 0.7500  0.10s" in stream.getvalue()
    with pytest.raises(ValueError, match="verbose"):
        Progress(7)
    model.fit(x, y, epochs=1, verbose=0)


def test_predict_proba_predict_and_evaluate():
    x, y = five_clusters(300, seed=0)
    model = nn.Model(nn.mlp([2, 16, 5], "tanh", seed=0), optimizer=nn.Adam(0.02))
    model.fit(x, y, epochs=5, batch_size=32, seed=0, verbose=0)
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), proba.argmax(axis=1))
    result = model.evaluate(x, y)
    assert result["accuracy"] == pytest.approx(np.mean(model.predict(x) == y))
    regression = nn.Model(nn.mlp([2, 4, 1], seed=0), loss="mse")
    with pytest.raises(ValueError, match="classification loss"):
        regression.predict_proba(x)


def test_one_hidden_layer_mlp_reaches_97_percent_on_mnist():
    folder = mnist_dir()
    if folder is None:
        pytest.skip("full MNIST not found (set NNSCRATCH_DATA or provide ../shared/data/mnist)")
    from nnscratch.data.mnist import load_mnist

    data = load_mnist(folder, normalize=True, download=False, progress=False)
    model = nn.Model(nn.mlp([784, 128, 10], "relu", seed=0), optimizer=nn.Adam(1e-3))
    model.fit(data.x_train, data.y_train, epochs=4, batch_size=64, seed=0, verbose=0)
    assert model.evaluate(data.x_test, data.y_test)["accuracy"] >= 0.97


def test_a_summed_cost_is_logged_as_a_sum_whatever_the_batch_size():
    x, y = five_clusters(200, seed=0)
    logged = []
    for batch in (10, 100):
        model = nn.Model(
            nn.mlp([2, 8, 5], seed=0, dtype=np.float64), loss="sse", optimizer=nn.SGD(1e-12)
        )
        model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
        logged.append(model.history["loss"][0])
        assert logged[-1] == pytest.approx(model.evaluate(x, y)["loss"], rel=1e-6)
    assert logged[0] == pytest.approx(logged[1], rel=1e-6)


def test_divergence_guard_restores_the_snapshot_taken_before_the_failure():
    class BreaksAtStep20(nn.SGD):
        """Plain SGD that records its weights after 16 steps and writes inf at step 20."""

        def _update(self, params):
            super()._update(params)
            if self.iterations == 16:
                self.after_16 = params[0].value.copy()
            if self.iterations == 20:
                params[0].value[:3] = np.inf

    x, y = five_clusters(400, seed=0)
    model = nn.Model(nn.mlp([2, 8, 5], "relu", seed=0), optimizer=BreaksAtStep20(0.1))
    with pytest.raises(nn.TrainingDivergedError) as info:
        model.fit(x, y, epochs=1, batch_size=10, seed=0, verbose=0)
    assert "epoch 1, batch 21" in str(info.value)
    assert "the finite state it had before epoch 1, batch 17." in str(info.value)
    np.testing.assert_array_equal(model.network.flat_parameter.value, model.optimizer.after_16)


def test_a_loss_that_grows_a_thousandfold_is_divergence_and_the_start_is_restored():
    x, y = five_clusters(400, seed=0)
    model = nn.Model(nn.mlp([2, 16, 5], "relu", seed=0), optimizer=nn.Adam(1e9))
    start = model.network.flat_parameter.value.copy()
    with pytest.raises(nn.TrainingDivergedError) as info:
        model.fit(x, y, epochs=3, batch_size=40, seed=0, verbose=0)
    message = str(info.value)
    first = float(re.search(r"over 1000 times the first batch's ([\d.e+-]+)", message).group(1))
    became = float(re.search(r"the loss became ([\d.e+-]+),", message).group(1))
    assert became > 1000 * first and became > 100 and np.isfinite(became)
    assert "epoch 1, batch 2" in message and "before epoch 1, batch 1." in message
    np.testing.assert_array_equal(model.network.flat_parameter.value, start)


def test_the_growth_guard_ignores_a_rise_from_a_tiny_loss():
    class Jolts(nn.SGD):
        """Plain SGD that knocks the weights off the optimum once, at step 5."""

        def _update(self, params):
            super()._update(params)
            if self.iterations == 5:
                params[0].value += 3.0

    x, y = truth_table()
    net = nn.mlp([3, 4, 1], "sigmoid", output_activation="sigmoid", seed=1, dtype=np.float64)
    model = nn.Model(net, loss="sse", optimizer=nn.SGD(2.0))
    model.fit(x, y.reshape(-1, 1), epochs=3000, batch_size=4, shuffle=False, verbose=0)
    tiny = model.history["loss"][-1]
    model.optimizer = Jolts(2.0)
    model.fit(x, y.reshape(-1, 1), epochs=10, batch_size=4, shuffle=False, verbose=0)
    jolted = max(model.history["loss"][-10:])
    assert tiny < 1e-3 and jolted > 1000 * tiny  # a thousandfold rise, but no divergence


def test_fit_refuses_a_run_that_cannot_fit_in_memory_before_training(monkeypatch):
    from nnscratch.training import memory

    x = np.zeros((64, 784), np.float32)
    y = np.arange(64) % 10
    model = nn.Model(nn.mlp([784, 2000, 10], seed=0), optimizer=nn.Adam(1e-3))
    before = model.network.flat_parameter.value.copy()
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    with pytest.raises(MemoryError) as info:
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    # 4 bytes x (3 arrays per parameter for Adam: m, v, scratch + a batch of 32 activations)
    assert re.search(r"1,590,010-parameter network with adam needs about 20\.0 MB", str(info.value))
    assert "only 1.0 MB is available" in str(info.value)
    assert model.epoch == 0 and not model.optimizer._state
    np.testing.assert_array_equal(model.network.flat_parameter.value, before)
    monkeypatch.setattr(memory, "available_memory", lambda: None)  # unknown: no refusal
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert model.epoch == 1


def test_early_stopping_restored_from_a_history_continues_as_if_never_stopped(tmp_path):
    x, y = five_clusters(400, seed=0)

    def new_model():
        return nn.Model(nn.mlp([2, 32, 5], "relu", seed=0), optimizer=nn.Adam(0.05))

    whole = new_model()
    watch = nn.EarlyStopping(patience=2)
    whole.fit(
        x, y, epochs=60, batch_size=32, validation_split=0.25, seed=0, callbacks=[watch], verbose=0
    )
    assert watch.stopped_epoch is not None and watch.best_epoch < watch.stopped_epoch
    cut = watch.best_epoch + 1  # stop after the best epoch: its weights must be carried over

    first = new_model()
    first_watch = nn.EarlyStopping(patience=2)
    first.fit(
        x,
        y,
        epochs=cut,
        batch_size=32,
        validation_split=0.25,
        seed=0,
        callbacks=[first_watch],
        verbose=0,
    )
    first.save(tmp_path / "checkpoint.npz")
    resumed = nn.Model.load(tmp_path / "checkpoint.npz")
    again = nn.EarlyStopping(patience=2)
    again.restore(resumed.history)
    assert (again.best_epoch, again.best) == (first_watch.best_epoch, first_watch.best)
    again.best_weights = first_watch.best_weights
    resumed.fit(
        x, y, epochs=60 - cut, batch_size=32, validation_split=0.25, callbacks=[again], verbose=0
    )
    assert again.stopped_epoch == watch.stopped_epoch and resumed.epoch == whole.epoch
    np.testing.assert_array_equal(
        resumed.network.flat_parameter.value, whole.network.flat_parameter.value
    )

    over = nn.EarlyStopping(patience=2)
    over.restore(whole.history)  # a history that had run out of patience: the run is over
    assert over.stopped_epoch == watch.stopped_epoch
