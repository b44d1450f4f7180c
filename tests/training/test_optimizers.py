import numpy as np
import pytest

import nnscratch as nn
from nnscratch.core.layers import Parameter


def param(value, grad):
    v = np.array(value, dtype=np.float64)
    return Parameter("p", v, np.array(grad, dtype=np.float64))


def run(opt, grads, start=1.0):
    p = param([start], [0.0])
    values = []
    for g in grads:
        p.grad[...] = g
        opt.step([p])
        values.append(p.value[0])
    return values


def test_sgd_by_hand():
    assert run(nn.SGD(0.1), [2.0, -1.0]) == pytest.approx([0.8, 0.9])


def test_sgd_weight_decay_is_coupled_l2():
    # g' = g + wd * theta = 0 + 0.5 * 1 -> theta = 1 - 0.1 * 0.5
    assert run(nn.SGD(0.1, weight_decay=0.5), [0.0]) == pytest.approx([0.95])


def test_momentum_by_hand():
    # v1 = g1 = 1 -> 1 - 0.1 = 0.9;  v2 = 0.9 * 1 + 1 = 1.9 -> 0.9 - 0.19 = 0.71
    assert run(nn.Momentum(0.1, 0.9), [1.0, 1.0]) == pytest.approx([0.9, 0.71])


def test_nesterov_by_hand():
    # step = g + mu v: v1 = 1, step 1.9 -> 0.81; v2 = 1.9, step = 1 + 1.71 = 2.71 -> 0.539
    assert run(nn.Nesterov(0.1, 0.9), [1.0, 1.0]) == pytest.approx([0.81, 0.539])


def test_adagrad_by_hand():
    # s = 4 -> 1 - 0.1 * 2 / 2 = 0.9;  s = 8 -> 0.9 - 0.1 * 2 / sqrt(8)
    assert run(nn.AdaGrad(0.1, eps=0.0 + 1e-300), [2.0, 2.0]) == pytest.approx(
        [0.9, 0.9 - 0.2 / np.sqrt(8)]
    )


def test_rmsprop_by_hand():
    # s = 0.01 * 4 = 0.04 -> 1 - 0.1 * 2 / 0.2 = 0.0
    assert run(nn.RMSProp(0.1, rho=0.99, eps=1e-300), [2.0]) == pytest.approx([0.0], abs=1e-12)


def test_adam_first_step_is_learning_rate_times_sign():
    # bias correction makes m^ = g and v^ = g^2, so the first step is eta * g / |g|
    assert run(nn.Adam(0.01, eps=1e-300), [5.0]) == pytest.approx([0.99])
    assert run(nn.Adam(0.01, eps=1e-300), [-0.001]) == pytest.approx([1.01])


def test_adamw_decays_decoupled():
    # with g = 0 Adam's step is 0 / (0 + eps) = 0; only the decay acts: theta (1 - eta lambda)
    assert run(nn.AdamW(0.1, weight_decay=0.5), [0.0]) == pytest.approx([0.95])


@pytest.mark.parametrize("name", list(nn.OPTIMIZERS))
def test_flat_and_per_parameter_updates_agree(name):
    rng = np.random.default_rng(0)
    net_a = nn.mlp([3, 4, 2], "tanh", seed=0, dtype=np.float64)
    net_b = net_a.copy()
    opt_a, opt_b = nn.get_optimizer(name), nn.get_optimizer(name)
    for _ in range(5):
        g = rng.normal(size=net_a.flat_parameter.grad.shape)
        net_a.flat_parameter.grad[...] = g
        net_b.flat_parameter.grad[...] = g
        opt_a.step([net_a.flat_parameter])
        opt_b.step(net_b.parameters())
    np.testing.assert_allclose(net_a.flat_parameter.value, net_b.flat_parameter.value, rtol=1e-12)


@pytest.mark.parametrize("name", list(nn.OPTIMIZERS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_consuming_the_gradients_changes_no_update(name, weight_decay):
    # the training loop lets the optimizer use the gradients as scratch space: the parameters
    # and the saved state must come out bitwise the same as with the gradients left alone
    rng = np.random.default_rng(3)
    keep = nn.mlp([5, 4, 3], "relu", seed=0, dtype=np.float32).flat_parameter
    spend = Parameter("all", keep.value.copy(), np.zeros_like(keep.grad))
    opt_keep = nn.get_optimizer(name, weight_decay=weight_decay)
    opt_spend = nn.get_optimizer(name, weight_decay=weight_decay)
    for _ in range(6):
        g = rng.normal(size=keep.grad.shape).astype(np.float32)
        keep.grad[...] = g
        spend.grad[...] = g
        opt_keep.step([keep])
        opt_spend.step([spend], consume_grads=True)
        np.testing.assert_array_equal(keep.grad, g)  # by default the gradient is left as is
    np.testing.assert_array_equal(spend.value, keep.value)
    for key, value in opt_keep.state_dict()["arrays"].items():
        np.testing.assert_array_equal(opt_spend.state_dict()["arrays"][key], value)


def test_adam_uses_a_consumable_gradient_as_its_scratch_array():
    p = Parameter("p", np.ones(4, np.float32), np.full(4, 0.5, np.float32))
    opt = nn.Adam(0.1)
    opt.step([p], consume_grads=True)
    # the last pass leaves the step itself in the gradient array: eta m^/(sqrt(v^)+eps) = eta
    np.testing.assert_allclose(p.grad, 0.1, rtol=1e-5)
    np.testing.assert_allclose(p.value, 0.9, rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(6, 3))
    full = param([1.0, 2.0, 3.0], [0, 0, 0])
    opt = nn.Adam(0.1)
    for g in grads:
        full.grad[...] = g
        opt.step([full])
    half = param([1.0, 2.0, 3.0], [0, 0, 0])
    first = nn.Adam(0.1)
    for g in grads[:3]:
        half.grad[...] = g
        first.step([half])
    second = nn.Adam(0.1)
    second.load_state_dict(first.state_dict())
    for g in grads[3:]:
        half.grad[...] = g
        second.step([half])
    np.testing.assert_array_equal(half.value, full.value)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: nn.SGD(-0.1), "learning_rate must be a finite number > 0"),
        (lambda: nn.SGD(float("nan")), "learning_rate"),
        (lambda: nn.Momentum(0.1, momentum=1.0), "momentum must be in"),
        (lambda: nn.Adam(beta1=1.5), "beta1"),
        (lambda: nn.RMSProp(rho=-0.1), "rho"),
        (lambda: nn.SGD(0.1, weight_decay=-1), "weight_decay"),
        (lambda: nn.get_optimizer("lbfgs"), "unknown optimizer 'lbfgs'"),
    ],
)
def test_bad_hyperparameters(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


# --- PyTorch as the oracle: 20 steps on the same problem -------------------------------------
torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")

TORCH_EQUIVALENT = {
    "sgd": (
        lambda: nn.SGD(0.1, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01),
    ),
    "momentum": (
        lambda: nn.Momentum(0.05, 0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "nesterov": (
        lambda: nn.Nesterov(0.05, 0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "adagrad": (lambda: nn.AdaGrad(0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
    "rmsprop": (lambda: nn.RMSProp(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "adam": (
        lambda: nn.Adam(0.01, weight_decay=0.001),
        lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.001),
    ),
    "adamw": (
        lambda: nn.AdamW(0.01, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_EQUIVALENT))
def test_twenty_steps_match_torch_optim(name):
    ours_factory, torch_factory = TORCH_EQUIVALENT[name]
    rng = np.random.default_rng(42)
    x = rng.normal(size=(16, 5))
    y = rng.integers(0, 3, size=16)
    net = nn.mlp([5, 8, 3], "tanh", seed=3, dtype=np.float64)
    tparams = [torch.tensor(p.value.copy(), requires_grad=True) for p in net.parameters()]
    topt = torch_factory(tparams)
    opt = ours_factory()
    loss = nn.SoftmaxCrossEntropy()
    tx, ty = torch.tensor(x), torch.tensor(y)
    for _ in range(20):
        _, grad = loss.value_and_gradient(net._forward(x, True), y)
        net.backward(grad)
        opt.step([net.flat_parameter])
        topt.zero_grad()
        w1, b1, w2, b2 = tparams
        out = torch.tanh(tx @ w1 + b1) @ w2 + b2
        torch.nn.functional.cross_entropy(out, ty).backward()
        topt.step()
    for p, tp in zip(net.parameters(), tparams, strict=True):
        assert np.max(np.abs(p.value - tp.detach().numpy())) < 1e-6
    # and the parameters did move
    assert (
        np.max(
            np.abs(
                net.flat_parameter.value
                - nn.mlp([5, 8, 3], "tanh", seed=3, dtype=np.float64).flat_parameter.value
            )
        )
        > 1e-3
    )
