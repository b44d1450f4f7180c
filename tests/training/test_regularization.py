"""Seed 002's techniques (Nielsen ch. 3), each with a test that shows its effect."""

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.data.toy import five_clusters, spirals
from nnscratch.training.regularizers import apply_max_norm

X, Y = five_clusters(300, seed=0)


def weight_norm(model):
    return sum(float(np.sum(p.value**2)) for p in model.network.parameters() if p.kind == "weight")


def train(epochs=30, **kwargs):
    model = nn.Model(nn.mlp([2, 64, 64, 5], "relu", seed=0), optimizer=nn.SGD(0.1), **kwargs)
    model.fit(X, Y, epochs=epochs, batch_size=10, seed=0, verbose=0)
    return model


def test_l2_shrinks_weights_relative_to_no_l2():
    plain, l2 = train(), train(l2=5.0)
    assert weight_norm(l2) < 0.7 * weight_norm(plain)
    # the logged loss includes Nielsen's penalty lambda/(2n) sum w^2
    penalty = 5.0 / (2 * len(X)) * weight_norm(l2)
    assert l2.history["loss"][-1] > penalty > 0


def test_l1_drives_many_weights_to_near_zero():
    plain, l1 = train(), train(l1=3.0)

    def tiny_share(m):
        w = np.concatenate([p.value.ravel() for p in m.network.parameters() if p.kind == "weight"])
        return np.mean(np.abs(w) < 1e-2)

    assert tiny_share(l1) > 2 * tiny_share(plain)


def test_l2_gradient_is_lambda_over_n_times_w():
    net = nn.mlp([2, 3, 2], seed=0, dtype=np.float64)
    params = net.parameters()
    for p in params:
        p.grad[...] = 0.0
    nn.L2(4.0).add_gradient(params, n=8)
    np.testing.assert_allclose(params[0].grad, 0.5 * params[0].value)
    assert not params[1].grad.any()  # biases are not penalised


def test_dropout_is_inactive_at_inference_and_unbiased_in_training():
    layers = [nn.Dense(50, "relu"), nn.Dropout(0.5), nn.Dense(5)]
    net = nn.Sequential(layers, 2, seed=0)
    without = nn.Sequential([nn.Dense(50, "relu"), nn.Dense(5)], 2, seed=0)
    without.set_weights(
        {
            "0.W": net.layers[0].W.value,
            "0.b": net.layers[0].b.value,
            "1.W": net.layers[2].W.value,
            "1.b": net.layers[2].b.value,
        }
    )
    np.testing.assert_array_equal(net.predict(X), without.predict(X))
    drop = nn.Dropout(0.3, seed=1)
    drop.build(1000, np.random.default_rng(0))
    ones = np.ones((200, 1000), dtype=np.float32)
    out = drop.forward(ones, training=True)
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    assert out.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps the expectation
    np.testing.assert_array_equal(drop.backward(ones), out)  # same mask in the backward pass
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        nn.Dropout(1.0)


def test_dropout_reduces_overfitting_gap():
    # 120 noisy points and two layers of 256 units: without dropout the net memorises the noise
    x, y = spirals(120, arms=3, noise=0.8, seed=0)
    x_val, y_val = spirals(1000, arms=3, noise=0.8, seed=1)

    def gaps(rate):
        layers = [
            nn.Dense(256, "relu"),
            nn.Dropout(rate),
            nn.Dense(256, "relu"),
            nn.Dropout(rate),
            nn.Dense(3),
        ]
        model = nn.Model(nn.Sequential(layers, 2, seed=0), optimizer=nn.Adam(0.01))
        model.fit(x, y, epochs=200, batch_size=16, seed=0, verbose=0)
        train, val = model.evaluate(x, y), model.evaluate(x_val, y_val)
        return train["accuracy"] - val["accuracy"], val["loss"] - train["loss"]

    plain, dropped = gaps(0.0), gaps(0.5)
    assert dropped[0] < 0.75 * plain[0]  # generalisation gap in accuracy
    assert dropped[1] < 0.75 * plain[1]  # and in loss


def test_early_stopping_restores_the_best_epoch():
    x, y = spirals(120, arms=3, noise=0.6, seed=0)
    x_val, y_val = spirals(600, arms=3, noise=0.6, seed=1)
    model = nn.Model(nn.mlp([2, 256, 256, 3], "relu", seed=0), optimizer=nn.Adam(0.02))
    stopper = nn.EarlyStopping(monitor="val_loss", patience=5)
    weights = {}
    record = nn.LambdaCallback(
        on_epoch_end=lambda m, e, logs: weights.__setitem__(e, m.network.get_weights())
    )
    model.fit(
        x,
        y,
        epochs=300,
        batch_size=16,
        seed=0,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[stopper, record],
    )
    history = model.history
    best = int(np.argmin(history["val_loss"])) + 1
    assert stopper.stopped_epoch == best + 6 == history.epochs[-1]
    assert stopper.best_epoch == best
    restored = model.network.get_weights()
    assert all(np.array_equal(restored[k], weights[best][k]) for k in restored)
    assert model.evaluate(x_val, y_val)["loss"] == pytest.approx(min(history["val_loss"]), rel=1e-5)


def test_early_stopping_needs_the_monitored_quantity():
    model = nn.Model(nn.mlp([2, 4, 5], seed=0))
    with pytest.raises(ValueError, match="val_loss.*validation_data"):
        model.fit(X, Y, epochs=2, verbose=0, callbacks=[nn.EarlyStopping()])


def test_max_norm_caps_each_units_incoming_weights():
    model = train(epochs=10, max_norm=0.5)
    for p in model.network.parameters():
        if p.kind == "weight":
            assert np.linalg.norm(p.value, axis=0).max() <= 0.5 + 1e-6


def test_gradient_clipping_bounds_the_global_norm():
    model = nn.Model(nn.mlp([2, 8, 5], seed=0), optimizer=nn.SGD(1.0), clip_norm=0.01)
    before = model.network.flat_parameter.value.copy()
    model.fit(X[:10], Y[:10], epochs=1, batch_size=10, verbose=0)
    step = model.network.flat_parameter.value - before
    assert np.linalg.norm(step) == pytest.approx(0.01, rel=1e-3)


def test_nielsen_initialisation_learns_faster_than_standard_normal():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2000, 400)).astype(np.float32)
    labels = (x[:, :200].sum(axis=1) > x[:, 200:].sum(axis=1)).astype(int)

    def loss_after_two_epochs(init):
        net = nn.mlp([400, 30, 2], "sigmoid", weight_init=init, seed=0)
        model = nn.Model(net, optimizer=nn.SGD(0.5))
        model.fit(x, labels, epochs=2, batch_size=10, seed=0, verbose=0)
        return model.evaluate(x, labels)["accuracy"]

    assert loss_after_two_epochs("nielsen") > loss_after_two_epochs("standard_normal") + 0.1


def single_neuron_losses(loss, lr, w, b, epochs=300):
    """Seed 002's neuron: input 1 -> target 0, plain gradient descent."""
    head = "sigmoid" if loss == "quadratic" else None
    net = nn.Sequential.from_arrays([np.array([[w]])], [np.array([b])], output_activation=head)
    model = nn.Model(net, loss=loss, optimizer=nn.SGD(lr))
    model.fit(np.ones((1, 1)), np.zeros((1, 1)), epochs=epochs, batch_size=1, verbose=0)
    return np.array(model.history["loss"])


def drops(losses, window=50):
    return np.array(
        [losses[i] - losses[i + window] for i in range(0, len(losses) - window, window)]
    )


def test_quadratic_cost_plateaus_for_a_saturated_neuron_and_cross_entropy_does_not():
    # From w = b = 2 the neuron outputs 0.98 and sigma'(z) is tiny: under the quadratic cost
    # (eta = 0.15) learning crawls, then accelerates; from w = 0.6, b = 0.9 it is fast at once.
    saturated = drops(single_neuron_losses("quadratic", 0.15, 2.0, 2.0))
    assert saturated[0] < 0.05 * saturated.max() and np.all(np.diff(saturated) > 0)
    fresh = drops(single_neuron_losses("quadratic", 0.15, 0.6, 0.9))
    assert fresh[0] == fresh.max()
    # Cross-entropy (eta = 0.005) has no sigma' factor: the first epochs learn fastest.
    ce = drops(single_neuron_losses("binary_cross_entropy_with_logits", 0.005, 2.0, 2.0))
    assert ce[0] == ce.max() and np.all(np.diff(ce) < 0)


def test_batch_norm_uses_batch_statistics_in_training_and_running_ones_at_inference():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm(momentum=0.0)
    bn.build(3, rng, np.float64)
    x = rng.normal(loc=5.0, scale=3.0, size=(64, 3))
    out = bn.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, x.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, x.var(axis=0, ddof=1))  # unbiased, as torch
    single = bn.forward(x[:1], training=False)
    # inference divides by the unbiased deviation, training by the biased one: sqrt(63/64)
    np.testing.assert_allclose(single, out[:1] * np.sqrt(63 / 64), atol=1e-3)
    with pytest.raises(ValueError, match="at least 2 samples"):
        bn.forward(x[:1], training=True)


def test_batch_norm_gradients_pass_gradient_check():
    net = nn.mlp([4, 6, 3], "tanh", batch_norm=True, seed=0, dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(8, 4))
    result = nn.gradient_check(net, x, np.array([0, 1, 2, 0, 1, 2, 0, 1]), "softmax_cross_entropy")
    assert result.passed and "1.gamma" in result.errors


def test_schedules():
    assert [nn.StepDecay(1.0, 2, 0.5)(e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert nn.ExponentialDecay(1.0, 0.9)(2) == pytest.approx(0.81)
    cosine = nn.CosineAnnealing(1.0, 10, 0.1)
    assert (
        cosine(0) == 1.0 and cosine(5) == pytest.approx(0.55) and cosine(10) == pytest.approx(0.1)
    )
    warm = nn.LinearWarmup(0.1, 4, after=nn.StepDecay(0.1, 1, 0.5))
    assert [warm(e) for e in range(6)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.05])
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        nn.get_schedule("cyclic", 0.1)
    model = nn.Model(nn.mlp([2, 4, 5], seed=0), optimizer=nn.SGD(0.4))
    model.fit(X, Y, epochs=3, verbose=0, schedule=nn.StepDecay(0.4, 1, 0.5))
    assert model.history["lr"] == [0.4, 0.2, 0.1]


def test_batch_norm_network_trains_when_the_last_batch_has_one_sample():
    x, y = X[:33], Y[:33]  # 33 = 32 + 1
    model = nn.Model(nn.mlp([2, 8, 5], "relu", batch_norm=True, seed=0), optimizer=nn.Adam(0.01))
    model.fit(x, y, epochs=2, batch_size=32, seed=0, verbose=0)
    assert np.isfinite(model.history["loss"]).all()


def test_copies_and_pickles_leave_scratch_buffers_behind():
    import pickle

    net = nn.mlp([784, 64, 10], seed=0)
    net.predict(np.zeros((5000, 784), np.float32))
    size = len(pickle.dumps(net))
    assert size < 2 * net.n_parameters * 4 + 100_000  # parameters and gradients, no activations
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(
        restored.predict(np.ones((2, 784))), net.predict(np.ones((2, 784)))
    )


def test_expanded_training_data_generalises_better():
    # Nielsen: adding each digit shifted by one pixel up, down, left and right; same number of
    # gradient steps for both runs (1,000 images x 50 epochs = 5,000 images x 10 epochs)
    from nnscratch.data import expand_mnist, load_mnist_sample

    digits = load_mnist_sample()
    x, y = digits.x_train[:1000], digits.y_train[:1000]
    x_big, y_big = expand_mnist(x.reshape(-1, 28, 28), y)
    x_test = digits.x_test.astype(np.float32) / 255

    def accuracy(images, labels, epochs):
        model = nn.Model(nn.mlp([784, 100, 10], seed=0), optimizer=nn.Adam(1e-3))
        model.fit(
            images.reshape(len(images), -1).astype(np.float32) / 255,
            labels,
            epochs=epochs,
            batch_size=32,
            seed=0,
            verbose=0,
        )
        return model.evaluate(x_test, digits.y_test)["accuracy"]

    assert len(x_big) == 5 * len(x)
    assert accuracy(x_big, y_big, 10) > accuracy(x, y, 50) + 0.01


# -- convolution kernels -----------------------------------------------------------------------
def conv_net(dtype=np.float32):
    return nn.Sequential(
        [nn.Conv2D(3, 2, activation="relu"), nn.Flatten(), nn.Dense(2)],
        input_shape=(2, 3, 3),
        seed=0,
        dtype=dtype,
    )


def test_max_norm_caps_each_conv_filter_over_its_channels_and_window():
    """Filter 0 has norm 5 over its 2 channels x 2 x 2 weights (1+4+4+16 = 25): scaled by
    2/5; filter 1 has norm 1 (0.36+0.64): untouched; the bias is never constrained."""
    kernel = np.zeros((2, 2, 2, 2))
    kernel[0, 0] = [[1.0, 2.0], [2.0, 0.0]]
    kernel[0, 1] = [[0.0, 0.0], [4.0, 0.0]]
    kernel[1, 1] = [[0.6, 0.0], [0.0, 0.8]]
    w = nn.Parameter("W", kernel.copy(), np.zeros_like(kernel), "weight")
    b = nn.Parameter("b", np.array([30.0, 40.0]), np.zeros(2), "bias")
    apply_max_norm([w, b], 2.0)
    expected = kernel.copy()
    expected[0] *= 0.4
    np.testing.assert_allclose(w.value, expected, rtol=1e-15)
    assert w.value[0, 1, 1, 0] == pytest.approx(1.6)
    np.testing.assert_array_equal(b.value, [30.0, 40.0])


def test_max_norm_applies_to_conv_kernels_during_training():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2, 3, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=64)
    free = nn.Model(conv_net(), optimizer=nn.SGD(2.0))
    capped = nn.Model(conv_net(), optimizer=nn.SGD(2.0), max_norm=0.5)
    for model in (free, capped):
        model.fit(x, y, epochs=5, batch_size=8, seed=0, verbose=0)
    filter_norms = lambda m: np.linalg.norm(  # noqa: E731
        m.network.layers[0].W.value.reshape(3, -1), axis=1
    )
    assert filter_norms(free).max() > 0.6  # without the cap the filters grow past it
    assert filter_norms(capped).max() <= 0.5 + 1e-6
    assert filter_norms(capped).max() == pytest.approx(0.5, rel=1e-5)


def test_l2_and_l1_penalise_conv_kernels_with_nielsens_gradient():
    """dC/dW = (lambda/n) W for L2 and (lambda/n) sign(W) for L1 on the 4-D kernel (the bias
    is not penalised), and each is the derivative of its penalty (central differences)."""
    net = conv_net(np.float64)
    kernel, bias = net.layers[0].W, net.layers[0].b
    assert kernel.shape == (3, 2, 2, 2)
    lam, n = 3.0, 12
    for reg, formula in ((nn.L2(lam), kernel.value), (nn.L1(lam), np.sign(kernel.value))):
        for p in net.parameters():
            p.grad[...] = 0.0
        reg.add_gradient(net.parameters(), n)
        np.testing.assert_allclose(kernel.grad, lam / n * formula, rtol=1e-15)
        assert not bias.grad.any()
        h = 1e-6
        for index in [(0, 0, 0, 0), (1, 1, 0, 1), (2, 0, 1, 1)]:
            old = kernel.value[index]
            kernel.value[index] = old + h
            up = reg.penalty(net.parameters(), n)
            kernel.value[index] = old - h
            down = reg.penalty(net.parameters(), n)
            kernel.value[index] = old
            assert (up - down) / (2 * h) == pytest.approx(kernel.grad[index], rel=1e-6)
    squares = float(np.sum(kernel.value**2) + np.sum(net.layers[2].W.value ** 2))
    assert nn.L2(lam).penalty(net.parameters(), n) == pytest.approx(lam / (2 * n) * squares)
