"""Numerics at the edges of the float range, checked against PyTorch as an independent oracle.

Each test here failed before its fix: GELU overflowing at |z| > max/2, fused softmax
cross-entropy giving NaN for one-hot targets, binary cross-entropy not learning out of a
saturated sigmoid, clip_norm dividing by the bare norm, batch norm's running variance, MSE
overflowing float32, and float64 inputs beyond float32's range reported as a divergence.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnscratch as nn
from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.losses import LOSSES

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
F = torch.nn.functional

DTYPES = [np.float32, np.float64]
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def extremes(dtype):
    big = np.finfo(dtype).max
    return np.array(
        [big, -big, big / 2, -big / 2, 1e4, -1e4, 30.0, -30.0, 3.0, -3.0, 0.5, -0.5, 0.0],
        dtype=dtype,
    )


pytestmark = pytest.mark.filterwarnings("error")  # an overflow warning is a failure here


# -- 1. GELU ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_value_and_derivative_match_torch_up_to_the_dtype_maximum(dtype):
    z = extremes(dtype)
    gelu = nn.GELU()
    value = gelu.forward(z.copy())
    slope = gelu.derivative(z.copy())
    tz = torch.tensor(z, requires_grad=True)
    tvalue = F.gelu(tz, approximate="tanh")
    tvalue.sum().backward()
    tvalue, tslope = tvalue.detach().numpy(), tz.grad.numpy()

    assert value.dtype == dtype and slope.dtype == dtype
    assert np.isfinite(value).all() and np.isfinite(slope).all()
    # float32: 1 + tanh(u) cancels in the negative tail (about 1e-7 absolute at z = -3)
    rtol, atol = (1e-6, 1e-6) if dtype == np.float32 else (1e-12, 1e-15)
    np.testing.assert_allclose(value, tvalue, rtol=rtol, atol=atol)
    finite = np.isfinite(tslope)  # torch's derivative is NaN beyond |z| ~ 1e100
    np.testing.assert_allclose(slope[finite], tslope[finite], rtol=rtol, atol=atol)
    # where torch gives NaN, GELU is the identity (z > 0) or 0 (z < 0), slopes 1 and 0
    assert (slope[~finite] == np.where(z[~finite] > 0, 1.0, 0.0)).all()
    big = np.finfo(dtype).max
    assert value[0] == big and value[2] == big / 2 and value[1] == 0 and value[3] == 0


# -- every activation at the ends of the range ------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"step"}))
def test_every_activation_finite_and_silent_at_the_dtype_maximum(name, dtype):
    act = ACTIVATIONS[name]()
    z = extremes(dtype)[None, :]  # one row, so softmax sees the whole range at once
    a = act.forward(z.copy())
    grad = act.backward(z, a, np.ones_like(z))
    for result in (a, act.derivative(z.copy()), grad):
        assert result.dtype == dtype
        assert np.isfinite(result).all(), (name, result)


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    name=st.sampled_from(sorted(set(ACTIVATIONS) - {"step"})),
    data=st.data(),
)
def test_every_activation_finite_for_any_finite_input(dtype, name, data):
    z = data.draw(
        hnp.arrays(
            dtype,
            (3, 5),
            elements=hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False),
        )
    )
    act = ACTIVATIONS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.forward(z.copy())
        results = (a, act.derivative(z.copy()), act.backward(z, a, np.ones_like(z)))
    for result in results:
        assert np.isfinite(result).all(), (name, z, result)


# -- every loss finite for finite inputs ------------------------------------------------------
def _targets(name, data, shape, dtype):
    n, k = shape
    if name in ("softmax_cross_entropy", "categorical_cross_entropy"):
        return data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    if name.startswith("binary"):
        return data.draw(hnp.arrays(dtype, shape, elements=st.sampled_from([0.0, 0.25, 1.0])))
    bound = float(np.float32(1e30))
    return data.draw(hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=32)))


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(sorted(LOSSES)), data=st.data())
def test_every_loss_finite_for_any_finite_float32_output(name, data):
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4)))
    output = data.draw(
        hnp.arrays(
            np.float32,
            shape,
            elements=hnp.from_dtype(np.dtype(np.float32), allow_nan=False, allow_infinity=False),
        )
    )
    if name == "binary_cross_entropy":
        output = np.clip(output, 0, 1)
    loss = LOSSES[name]()
    y = _targets(name, data, shape, np.float32)
    value, grad = loss.value_and_gradient(output, y)
    assert np.isfinite(value), (name, output, y)
    assert not np.isnan(grad).any()


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(LOSSES)), data=st.data())
def test_every_loss_finite_for_float64_outputs_whose_loss_fits_float64(name, data):
    # |output| <= 1e150: every true value (at most a square of 2e150) is a finite float64
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4)))
    output = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e150, 1e150)))
    if name == "binary_cross_entropy":
        output = np.clip(output, 0, 1)
    loss = LOSSES[name]()
    y = _targets(name, data, shape, np.float64)
    value, grad = loss.value_and_gradient(output, y)
    assert np.isfinite(value), (name, output, y)
    assert np.isfinite(grad).all()


def test_logits_need_a_network_ending_in_a_sigmoid():
    net = nn.mlp([2, 3, 1], "tanh", output_activation="tanh", seed=0)
    with pytest.raises(ValueError, match=r"logits=True needs .*sigmoid.*Dense\(1, tanh\)"):
        net.predict(np.zeros((2, 2)), logits=True)
    sig = nn.mlp([2, 3, 1], "tanh", output_activation="sigmoid", seed=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(5, 2))
    z = sig.predict(x, logits=True)
    np.testing.assert_allclose(sig.predict(x), 1 / (1 + np.exp(-z)), rtol=1e-15)
    assert not nn.Model(net, loss="binary_cross_entropy")._fused_sigmoid
    assert not nn.Model(sig, loss="mse")._fused_sigmoid
    assert nn.Model(sig, loss="binary_cross_entropy")._fused_sigmoid


# -- 2. fused softmax cross-entropy -----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_one_hot_and_labels_agree_for_extreme_logits(dtype):
    big = np.finfo(dtype).max
    top = big if dtype == np.float32 else big / 4  # float64: the true loss within its range
    z = np.array(
        [[top, -top, 0.0], [top, -top, 0.0], [1.0, 2.0, -top], [-top, 0.0, top]], dtype=dtype
    )
    labels = np.array([0, 1, 2, 2])
    one_hot = np.eye(3, dtype=dtype)[labels]
    loss = nn.SoftmaxCrossEntropy()
    v_lab, g_lab = loss.value_and_gradient(z, labels)
    v_hot, g_hot = loss.value_and_gradient(z, one_hot)

    tz = torch.tensor(z.astype(np.float64), requires_grad=True)
    tv = F.cross_entropy(tz, torch.tensor(labels))
    tv.backward()
    assert np.isfinite(v_lab) and np.isfinite(v_hot)
    assert v_lab == pytest.approx(tv.item(), rel=1e-12)
    assert v_hot == pytest.approx(tv.item(), rel=1e-12)
    assert g_lab.dtype == dtype and g_hot.dtype == dtype
    np.testing.assert_allclose(g_lab, tz.grad.numpy().astype(dtype), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(g_lab, g_hot, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_soft_targets_with_zeros_at_extreme_logits(dtype):
    big = np.finfo(dtype).max
    top = big if dtype == np.float32 else big / 4  # float64: the true loss within its range
    z = np.array([[top, -top, 0.0], [-top, top, 1.0]], dtype=dtype)
    y = np.array([[0.5, 0.0, 0.5], [0.0, 0.75, 0.25]], dtype=dtype)
    value, grad = nn.SoftmaxCrossEntropy().value_and_gradient(z, y)
    tz = torch.tensor(z.astype(np.float64), requires_grad=True)
    tv = F.cross_entropy(tz, torch.tensor(y.astype(np.float64)))
    tv.backward()
    assert np.isfinite(value)
    assert value == pytest.approx(tv.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tz.grad.numpy().astype(dtype), rtol=1e-6, atol=1e-12)


# -- 3. binary cross-entropy after a saturated sigmoid ----------------------------------------
def _saturated_model(head):
    # z = 20 x + 20 = 40 for x = 1: sigma(z) is exactly 1.0 in float32, the wrong answer for y = 0
    if head == "dense":
        layers = [nn.Dense(1, "sigmoid")]
    else:
        layers = [nn.Dense(1), nn.ActivationLayer("sigmoid")]
    net = nn.Sequential(layers, 1, seed=0)
    net.layers[0].W.value[...] = 20.0
    net.layers[0].b.value[...] = 20.0
    return nn.Model(net, loss="binary_cross_entropy", optimizer=nn.SGD(5.0))


@pytest.mark.parametrize("head", ["dense", "activation_layer"])
def test_bce_after_saturated_sigmoid_has_the_logit_gradient(head):
    model = _saturated_model(head)
    x = np.ones((4, 1), dtype=np.float32)
    y = np.zeros(4, dtype=np.float32)
    assert model.predict_proba(x)[:, 0].tolist() == [1.0] * 4  # saturated, wrong

    net = model.network
    out = net._forward(x, training=True, logits=model._fused_sigmoid)
    value, grad = model._compute_loss(out, model._prepare_targets(x, y, "y"))
    net.backward(grad, need_input_grad=False, logits=model._fused_sigmoid)

    tz = torch.tensor(np.full((4, 1), 40.0), requires_grad=True)
    tv = F.binary_cross_entropy_with_logits(tz, torch.zeros(4, 1), reduction="sum") / 4
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-6)  # 40, not the clipped ceiling 16.1
    dz = grad * len(grad)  # dL/dz per sample (the loss averages over 4)
    np.testing.assert_allclose(dz, 1.0, rtol=1e-6)  # p - y = 1
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-6)
    dense = net.layers[0]
    assert dense.b.grad[0] == pytest.approx(1.0, rel=1e-6)
    assert model.evaluate(x, y)["loss"] == pytest.approx(tv.item(), rel=1e-6)


@pytest.mark.parametrize("head", ["dense", "activation_layer"])
def test_bce_model_learns_out_of_saturation_in_a_few_steps(head):
    model = _saturated_model(head)
    x = np.ones((4, 1), dtype=np.float32)
    y = np.zeros(4, dtype=np.float32)
    model.fit(x, y, epochs=6, batch_size=4, shuffle=False, verbose=0)
    proba = model.predict_proba(x)[:, 0]
    assert (proba < 0.01).all(), proba  # each step lowers z by about 10, from 40 to about -20
    assert model.predict(x).tolist() == [0, 0, 0, 0]
    # predict_proba is still sigma(z), a probability, not the logit
    z = float(model.network.predict(x, logits=True)[0, 0])
    assert proba[0] == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-5)


def test_bce_on_probabilities_gradient_is_that_of_the_clipped_value():
    loss = nn.BinaryCrossEntropy(eps=1e-7)
    a = np.array([[1.0], [0.0], [0.5], [1e-9]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    value, grad = loss.value_and_gradient(a, y)
    # outside [eps, 1 - eps] the clipped loss is flat: its derivative is 0, as the value says
    assert grad[0, 0] == 0.0 and grad[1, 0] == 0.0 and grad[3, 0] == 0.0
    assert grad[2, 0] == pytest.approx((0.5 - 1.0) / 0.25 / 4)
    h = 1e-6
    for i in range(4):
        bumped = a.copy()
        bumped[i, 0] += h if a[i, 0] >= 0.5 else -h  # away from 0.5: clipped stay clipped
        step = bumped[i, 0] - a[i, 0]
        assert (loss.value(bumped, y) - value) / step == pytest.approx(grad[i, 0], abs=1e-3)


# -- 4. clip_norm ----------------------------------------------------------------------------
@pytest.mark.parametrize("clip", [0.5, 0.05])
def test_clip_norm_matches_torch_clip_grad_norm(clip):
    rng = np.random.default_rng(7)
    net = nn.mlp([5, 6, 3], "tanh", seed=1, dtype=np.float64)
    x = rng.normal(size=(8, 5))
    y = rng.integers(0, 3, size=8)
    start = [p.value.copy() for p in net.parameters()]
    model = nn.Model(net, optimizer=nn.SGD(1.0), clip_norm=clip)
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)

    w1, b1, w2, b2 = (torch.tensor(v, requires_grad=True) for v in start)
    out = torch.tanh(torch.tensor(x) @ w1 + b1) @ w2 + b2
    F.cross_entropy(out, torch.tensor(y)).backward()
    norm = torch.nn.utils.clip_grad_norm_([w1, b1, w2, b2], clip)
    assert norm.item() > clip  # clipping is active (the 1e-6 matters only then)
    with torch.no_grad():
        for tp in (w1, b1, w2, b2):
            tp -= tp.grad
    for p, tp in zip(net.parameters(), (w1, b1, w2, b2), strict=True):
        np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=0, atol=1e-13)


def test_clip_norm_applies_torch_factor_just_at_the_limit():
    # a gradient whose norm equals clip_norm exactly: torch still scales by c / (c + 1e-6)
    net = nn.Sequential([nn.Dense.from_arrays([[0.0]], [0.0], dtype=np.float64)], 1)
    model = nn.Model(net, loss="sse", optimizer=nn.SGD(1.0), clip_norm=2.0)
    # one sample x = 1, y = -sqrt(2): dL/dw = dL/db = sqrt(2), global norm 2
    model.fit(np.ones((1, 1)), np.array([[-np.sqrt(2.0)]]), epochs=1, batch_size=1, verbose=0)
    tw = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    tb = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (0.5 * ((torch.ones(1, 1, dtype=torch.float64) @ tw + tb + np.sqrt(2.0)) ** 2).sum()).backward()
    torch.nn.utils.clip_grad_norm_([tw, tb], 2.0)
    assert net.layers[0].W.value[0, 0] == pytest.approx(-tw.grad.item(), rel=1e-14, abs=0)
    assert net.layers[0].W.value[0, 0] != -np.sqrt(2.0)


# -- 5. batch norm running statistics --------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_batch_norm_running_statistics_match_torch(momentum):
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm(momentum=momentum, eps=1e-5)
    bn.build(4, rng, np.float64)
    tbn = torch.nn.BatchNorm1d(4, eps=1e-5, momentum=1 - momentum, dtype=torch.float64)
    tbn.train()
    for n in (8, 5, 2, 16, 3):
        x = rng.normal(loc=2.0, scale=3.0, size=(n, 4))
        out = bn.forward(x, training=True)
        tout = tbn(torch.tensor(x))
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=0, atol=1e-10)
    tbn.eval()
    x = rng.normal(size=(6, 4))
    np.testing.assert_allclose(
        bn.forward(x, training=False), tbn(torch.tensor(x)).detach().numpy(), atol=1e-10
    )


# -- 6. squared errors in float32, inputs beyond float32 -------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [("mse", 1e40 / 4), ("quadratic", 0.5 * 1e40 / 2), ("sse", 0.5 * 1e40)],
)
def test_squared_error_losses_do_not_overflow_float32(name, expected):
    out = np.array([[1e20, 0.0], [0.0, 0.0]], dtype=np.float32)
    y = np.zeros((2, 2), dtype=np.float32)
    value, grad = nn.get_loss(name).value_and_gradient(out, y)
    assert value == pytest.approx(expected, rel=1e-6)
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    _, reference = nn.get_loss(name).value_and_gradient(out.astype(np.float64), y)
    np.testing.assert_allclose(grad, reference, rtol=1e-6)


def test_mse_float32_at_opposite_ends_of_the_range():
    big = np.finfo(np.float32).max
    out = np.array([[big, -big, 0.0, 1.0]], dtype=np.float32)
    y = np.array([[-big, big, 0.0, 1.0]], dtype=np.float32)
    value, grad = nn.MSE().value_and_gradient(out, y)
    assert value == pytest.approx(2.0 * float(big) ** 2, rel=1e-6)  # (4 + 4) big^2 / 4
    np.testing.assert_allclose(grad, [[big, -big, 0.0, 0.0]], rtol=1e-6)  # 2 (2 big) / 4


def test_mse_float64_squares_beyond_float64_range_but_mean_within():
    out = np.full((1, 4), 1.2e154)  # the sum of squares, 5.8e308, overflows; the mean does not
    value, _ = nn.MSE().value_and_gradient(out, np.zeros((1, 4)))
    assert value == pytest.approx(1.2e154**2, rel=1e-12)


def _float32_model():
    return nn.Model(nn.mlp([3, 4, 2], "relu", seed=0), optimizer=nn.SGD(0.1))


def test_fit_refuses_float64_inputs_beyond_the_float32_range():
    x = np.ones((6, 3))
    x[2, 1] = -5e39
    model = _float32_model()
    with pytest.raises(ValueError) as info:
        model.fit(x, np.zeros(6, dtype=int), epochs=1, verbose=0)
    message = str(info.value)
    assert "x passed to fit" in message and "5e+39" in message
    assert "float32" in message and "3.403e+38" in message
    assert "diverged" not in message


def test_predict_refuses_float64_inputs_beyond_the_float32_range():
    x = np.ones((5, 3))
    x[4, 0] = 1e300
    with pytest.raises(ValueError, match=r"x passed to .*1e\+300.*float32.*3\.403e\+38"):
        _float32_model().predict(x)


def test_validation_data_beyond_the_float32_range_names_x_val():
    x = np.ones((6, 3))
    with pytest.raises(ValueError, match=r"x_val passed to validation_data .*4e\+38"):
        _float32_model().fit(
            x,
            np.zeros(6, dtype=int),
            validation_data=(x * 4e38, np.zeros(6, dtype=int)),
            verbose=0,
        )
