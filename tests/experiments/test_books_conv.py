"""The chapter-6 (Nielsen) and chapter-7 (Saito) reproduce rows build the books' networks and
train them the books' way; the rows' figures themselves are checked by ``reproduce --fast``."""

import math

import numpy as np

from nnscratch.core.layers import Conv2D, Dense, MaxPool2D
from nnscratch.experiments import nielsen_ch6, runner, saito_ch7
from nnscratch.experiments.common import Context
from nnscratch.model import Model
from nnscratch.training import SGD


def param_count(net) -> int:
    return sum(p.value.size for layer in net.layers for p in layer.parameters())


def test_nielsen_networks_have_the_books_shapes_and_sizes():
    one = nielsen_ch6.network((20,), "sigmoid")
    two = nielsen_ch6.network((20, 40), "relu")
    convs = [layer for layer in two.layers if isinstance(layer, Conv2D)]
    assert [c.W.value.shape for c in convs] == [(20, 1, 5, 5), (40, 20, 5, 5)]
    assert sum(isinstance(layer, MaxPool2D) for layer in two.layers) == 2
    # 20*25+20 | 2880*100+100 | 100*10+10 (network3's first conv net)
    assert param_count(one) == 520 + 288_100 + 1_010
    # + 40*20*25+40 and a 640-wide dense layer (40 maps of 4 x 4)
    assert param_count(two) == 520 + 20_040 + 64_100 + 1_010
    assert two.output_dim == 10


def test_nielsen_weights_are_drawn_as_network3_draws_them():
    net = nielsen_ch6.network((20, 40), "relu", seed=3)
    conv1, conv2 = (layer for layer in net.layers if isinstance(layer, Conv2D))
    hidden, out = (layer for layer in net.layers if isinstance(layer, Dense))
    # std sqrt(1/n_out), n_out = filters * 25 / 4; 500 and 20,000 draws: within 10% of it
    assert abs(conv1.W.value.std() - math.sqrt(4 / (20 * 25))) < 0.1 * math.sqrt(4 / 500)
    assert abs(conv2.W.value.std() - math.sqrt(4 / (40 * 25))) < 0.05 * math.sqrt(4 / 1000)
    assert abs(hidden.W.value.std() - 0.1) < 0.005
    assert abs(hidden.b.value.std() - 1.0) < 0.2  # biases N(0, 1)
    assert not out.W.value.any() and not out.b.value.any()  # softmax layer starts at zero


def test_l2_matches_network3s_lambda_per_mini_batch():
    """network3 adds 0.5 * lambda * sum w^2 / num_batches to a mini-batch's mean cost; one SGD
    step of Model(l2=lambda * batch_size) must move every weight exactly as that does."""
    rng = np.random.default_rng(0)
    n, batch, lam, eta = 40, 10, nielsen_ch6.BOOK_LAMBDA, 0.03
    x = rng.random((batch, 784)).astype(np.float64)
    y = rng.integers(0, 10, batch)
    plain = Model(nielsen_ch6.network((2,), "relu", seed=1), "softmax_cross_entropy", SGD(eta))
    penalised = Model(
        nielsen_ch6.network((2,), "relu", seed=1),
        "softmax_cross_entropy",
        SGD(eta),
        l2=nielsen_ch6.L2,
    )
    before = [p.value.copy() for layer in plain.network.layers for p in layer.parameters()]
    plain.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)
    # the same batch, but with the training set's n = 40 (num_batches = 4) for the penalty
    penalised.fit(
        np.tile(x, (4, 1)), np.tile(y, 4), epochs=1, batch_size=n, shuffle=False, verbose=0
    )
    after_plain = [p for layer in plain.network.layers for p in layer.parameters()]
    after_pen = [p for layer in penalised.network.layers for p in layer.parameters()]
    num_batches = n // batch
    for w0, p, q in zip(before, after_plain, after_pen, strict=True):
        decay = eta * lam / num_batches * w0 if p.kind == "weight" else 0.0
        np.testing.assert_allclose(q.value, p.value - decay, rtol=1e-5, atol=1e-6)
    assert nielsen_ch6.L2 == lam * batch == 1.0


def test_saito_simple_conv_net_is_the_books():
    net = saito_ch7.simple_conv_net(seed=0)
    conv = next(layer for layer in net.layers if isinstance(layer, Conv2D))
    assert conv.W.value.shape == (30, 1, 5, 5)
    # W1 30*25 + 30, W2 (30*12*12)*100 + 100, W3 100*10 + 10, as SimpleConvNet's params
    assert param_count(net) == 780 + 432_100 + 1_010
    dense = [layer for layer in net.layers if isinstance(layer, Dense)]
    assert abs(dense[0].W.value.std() - 0.01) < 0.0005  # weight_init_std = 0.01
    assert all(not layer.b.value.any() for layer in dense)


def test_every_row_is_registered_by_its_own_name():
    assert [n for n in runner.REGISTRY if "ch6" in n or "ch7" in n] == [
        "nielsen-ch6-conv1",
        "nielsen-ch6-conv2",
        "nielsen-ch6-relu",
        "nielsen-ch6-expanded",
        "saito-ch7",
    ]


def test_rows_without_mnist_are_skipped_with_the_reason(tmp_path):
    ctx = Context(tmp_path, True, str(tmp_path / "nowhere"))
    rows = nielsen_ch6.run_relu(ctx) + saito_ch7.run(ctx)
    assert [r.verdict for r in rows] == ["skipped", "skipped"]
    assert all(r.ours == "MNIST not available" and r.note for r in rows)
    assert "99.23%" in rows[0].article and "98.9%" in rows[1].article
