"""Seed 000: from the multi-class perceptron to one hidden layer to softmax + cross-entropy, on
the five-cluster data (two diagonal bands form the largest class, which no line can cut out)."""

from __future__ import annotations

from ..core.network import mlp
from ..data.toy import five_clusters
from ..i18n import t
from ..model import Model
from ..training import SGD, TrainingDivergedError
from .common import Context, Row, verdict

N = 1000
# The article's quadratic cost is summed over the batch, so its learning rate is per sample:
# 1e-5 trains, and "a slightly larger one makes the model explode".
SMALL_LR, LARGE_LR = 1e-5, 3e-4
EPOCHS = 1000  # full-batch gradient descent steps


def _train(sizes: list[int], loss: str, lr: float, seed: int = 0) -> Model:
    x, y = five_clusters(N, seed=0)
    model = Model(mlp(sizes, "relu", seed=seed), loss=loss, optimizer=SGD(lr))
    model.fit(x, y, epochs=EPOCHS, batch_size=N, verbose=0)
    return model


def run(ctx: Context) -> list[Row]:
    x_test, y_test = five_clusters(N, seed=1)
    linear = _train([2, 5], "sse", SMALL_LR)
    hidden = _train([2, 8, 5], "sse", SMALL_LR)
    # softmax + cross-entropy averaged over the batch: the same step as the summed cost at
    # learning rate 3e-4 per sample is 3e-4 * N on the mean
    softmax = _train([2, 8, 5], "softmax_cross_entropy", LARGE_LR * N)
    acc = {
        name: m.evaluate(x_test, y_test)["accuracy"]
        for name, m in (("linear", linear), ("hidden", hidden), ("softmax", softmax))
    }
    diverged = []
    for width in (8, 24, 64):
        try:
            _train([2, width, 5], "sse", LARGE_LR)
            diverged.append(False)
        except TrainingDivergedError:
            diverged.append(True)
    rows = [
        Row(
            t("seed000.linear"),
            t("seed000.linear.article"),
            t("seed000.linear.ours", acc=acc["linear"]),
            verdict(0.40 <= acc["linear"] <= 0.62),
        ),
        Row(
            t("seed000.hidden"),
            t("seed000.hidden.article"),
            f"{acc['hidden']:.1%}",
            verdict(0.60 <= acc["hidden"] <= 0.82),
        ),
        Row(
            t("seed000.softmax"),
            t("seed000.softmax.article"),
            f"{acc['softmax']:.1%}",
            verdict(acc["softmax"] > max(acc["linear"], acc["hidden"]) + 0.1),
        ),
        Row(
            t("seed000.large_lr"),
            t("seed000.large_lr.article"),
            t("seed000.large_lr.ours", diverged=sum(diverged), acc=acc["softmax"]),
            verdict(all(diverged) and acc["softmax"] > 0.8),
        ),
    ]
    try:
        from ..plots import plot_decision_regions_grid

        fig = plot_decision_regions_grid(
            {
                f"linear, quadratic ({acc['linear']:.0%})": linear,
                f"hidden ReLU, quadratic ({acc['hidden']:.0%})": hidden,
                f"softmax + cross-entropy ({acc['softmax']:.0%})": softmax,
            },
            x_test,
            y_test,
        )
        ctx.save(fig, "seed000_decision_regions")
        from ..plots import plot_activations

        ctx.save(plot_activations(), "activations")
    except ImportError as exc:
        rows[0].note = t("note.figures_skipped", error=str(exc))
    return rows
