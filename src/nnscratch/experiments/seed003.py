"""Seed 003: a two-layer sigmoid network learns the four-row table with the sum-of-squares
loss in 1500 iterations of full-batch gradient descent."""

from __future__ import annotations

import numpy as np

from ..core.network import mlp
from ..data.toy import truth_table
from ..i18n import t
from ..model import Model
from ..training import SGD
from .common import Context, Row, verdict

ARTICLE = (0.023, 0.979, 0.975, 0.025)


def run(ctx: Context) -> list[Row]:
    x, y = truth_table()
    # The article updates W by 2 (y - y^) sigma'(.): the gradient of sum (y - y^)^2. Our SSE is
    # 1/2 sum (a - y)^2, so the same step is learning rate 2.
    net = mlp([3, 4, 1], "sigmoid", output_activation="sigmoid", seed=1, dtype=np.float64)
    model = Model(net, loss="sse", optimizer=SGD(2.0))
    model.fit(
        x, y.reshape(-1, 1).astype(np.float64), epochs=1500, batch_size=4, shuffle=False, verbose=0
    )
    predictions = model.predict(x).ravel()
    losses = np.array(model.history["loss"])
    monotone = bool(np.all(np.diff(losses) < 0))
    rows = [
        Row(
            t("seed003.table"),
            " / ".join(f"{v:.3f}" for v in ARTICLE),
            " / ".join(f"{v:.3f}" for v in predictions),
            verdict(bool(np.all(np.abs(predictions - y) < 0.05))),
        ),
        Row(
            t("seed003.loss"),
            t("seed003.loss.article"),
            t(
                "seed003.loss.monotone" if monotone else "seed003.loss.not_monotone",
                first=losses[0],
                last=losses[-1],
            ),
            verdict(monotone),
        ),
    ]
    try:
        from ..plots import plot_learning_slowdown

        ctx.save(plot_learning_slowdown({"sum of squared errors": losses}), "seed003_loss")
    except ImportError:
        pass
    return rows
