"""Seed 004 (Saito, ch. 3): a fixed-weight forward pass, softmax and its overflow fix, and the
pretrained MNIST network."""

from __future__ import annotations

import warnings

import numpy as np

from ..core.activations import Softmax
from ..core.network import Sequential
from ..i18n import t
from .common import Context, Row, saito_weights, verdict

W = [
    np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
    np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
    np.array([[0.1, 0.3], [0.2, 0.4]]),
]
B = [np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2]), np.array([0.1, 0.2])]


def run(ctx: Context) -> list[Row]:
    net = Sequential.from_arrays(W, B, "sigmoid")
    out = net.forward(np.array([[1.0, 0.5]]))[0]
    expected = np.array([0.31682708, 0.69627909])
    soft = Softmax()
    s1 = soft(np.array([[0.3, 2.9, 4.0]]))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2 = soft(np.array([[1010.0, 1000.0, 990.0]]))[0]
    rows = [
        Row(
            t("seed004.forward"),
            "[0.31682708 0.69627909]",
            np.array2string(out, precision=8),
            verdict(np.allclose(out, expected, atol=1e-8)),
        ),
        Row(
            t("seed004.softmax"),
            "[0.01821127 0.24519181 0.73659691]",
            np.array2string(s1, precision=8),
            verdict(np.allclose(s1, [0.01821127, 0.24519181, 0.73659691], atol=1e-8)),
        ),
        Row(
            t("seed004.overflow"),
            t("seed004.overflow.article", values="[9.99954600e-01 4.53978686e-05 2.06106005e-09]"),
            t("seed004.overflow.ours", values=np.array2string(s2, precision=8)),
            verdict(np.allclose(s2, [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=1e-6)),
        ),
    ]
    rows.append(_pretrained(ctx))
    return rows


def _pretrained(ctx: Context) -> Row:
    name = t("seed004.pretrained")
    weights = saito_weights(ctx.data_dir)
    if weights is None:
        return Row(
            name,
            "93.52%",
            t("seed004.weights_missing"),
            "skipped",
            t("seed004.weights_where", file="saito-sample-weight.npz", folder="../shared/data"),
        )
    from ..data import load_mnist
    from ..data.errors import DataError

    try:
        data = load_mnist(ctx.data_dir, normalize=True, progress=True)
    except (DataError, OSError) as exc:
        return Row(name, "93.52%", t("mnist.missing"), "skipped", str(exc).splitlines()[0])
    net = Sequential.from_npz(weights, activations="sigmoid")
    accuracy = float(
        np.mean(net.predict(data.x_test, batch_size=100).argmax(axis=1) == data.y_test)
    )
    return Row(name, "93.52%", f"{accuracy:.2%}", verdict(abs(accuracy - 0.9352) < 1e-9))
