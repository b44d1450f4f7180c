"""The ``nnscratch`` command line: train, evaluate, predict, reproduce the articles, and more.

Every error a user can cause ends as one line on stderr ("nnscratch: error: ...") and a
non-zero exit code; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback

from .. import __version__

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to look."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _number(parse, accept, expected: str):
    """An argparse type: ``parse`` the text, then require ``accept(value)``."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return convert


_finite = math.isfinite
_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: v > 0 and _finite(v), "a finite number > 0")
_fraction = _number(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")
_non_negative = _number(float, lambda v: v >= 0 and _finite(v), "a finite number >= 0")


def _sizes(text: str) -> list[int]:
    if text.strip() in ("", "none", "-"):
        return []
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 256,128, got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    from ..core.activations import ACTIVATIONS
    from ..core.losses import LOSSES
    from ..training.optimizers import OPTIMIZERS
    from ..training.schedules import SCHEDULES

    parser = _Parser(
        prog="nnscratch",
        description="Neural networks from first principles in NumPy.",
        epilog="Run 'nnscratch COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"nnscratch {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks on errors",
        )
        return p

    hyphen = lambda names: sorted(n.replace("_", "-") for n in names)  # noqa: E731
    t = command("train", "Train a network and save the model, its history, metrics and plots.")
    t.add_argument(
        "--data",
        default="mnist-sample",
        metavar="NAME|PATH",
        help="mnist-sample (bundled, default), mnist, fashion-mnist, a toy set "
        "(five-clusters, spirals, xor, circles, moons, blobs, truth-table), "
        "or a .csv (last column = label) / .npz (x, y) file",
    )
    t.add_argument("--data-dir", metavar="DIR", help="folder holding the MNIST IDX files")
    t.add_argument(
        "--hidden",
        type=_sizes,
        default=None,
        metavar="SIZES",
        help="hidden layer sizes, e.g. 256,128 (default 128 for images, 32,32 for 2-D)",
    )
    t.add_argument(
        "--activation",
        default="relu",
        choices=hyphen(n for n in ACTIVATIONS if n not in ("step", "softmax")),
        metavar="NAME",
        help="hidden activation (default relu)",
    )
    t.add_argument(
        "--loss",
        default="softmax-cross-entropy",
        choices=hyphen(LOSSES),
        metavar="NAME",
        help="softmax-cross-entropy (default), mse, quadratic, sse, "
        "categorical-cross-entropy, binary-cross-entropy[-with-logits]",
    )
    t.add_argument(
        "--optimizer",
        default="adam",
        choices=hyphen(OPTIMIZERS),
        metavar="NAME",
        help="sgd, momentum, nesterov, adagrad, rmsprop, adam (default), adamw",
    )
    t.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default: 0.001 for adam/adamw/rmsprop, 0.1 otherwise)",
    )
    t.add_argument(
        "--schedule", default="constant", choices=sorted(SCHEDULES), help="learning-rate schedule"
    )
    t.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="epochs (default 15; 200 for 2-D toy sets)",
    )
    t.add_argument("--batch-size", type=_positive_int, default=32)
    t.add_argument(
        "--l2",
        type=_non_negative,
        default=0.0,
        help="L2 strength lambda (Nielsen: lambda/2n sum w^2)",
    )
    t.add_argument("--l1", type=_non_negative, default=0.0, help="L1 strength lambda")
    t.add_argument(
        "--dropout", type=_fraction, default=0.0, help="dropout rate after each hidden layer"
    )
    t.add_argument("--batch-norm", action="store_true", help="batch normalization in hidden layers")
    t.add_argument(
        "--init",
        default=None,
        metavar="NAME",
        help="weight initializer (default: He for ReLU, Glorot otherwise)",
    )
    t.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.1,
        help="share of training data held out for validation",
    )
    t.add_argument(
        "--early-stopping",
        type=_positive_int,
        default=None,
        metavar="PATIENCE",
        help="stop when validation loss has not improved for PATIENCE epochs",
    )
    t.add_argument(
        "--samples", type=_positive_int, default=None, help="number of points for toy sets"
    )
    t.add_argument("--noise", type=_non_negative, default=None, help="noise level for toy sets")
    t.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--out", metavar="DIR", default=None, help="output folder (default runs/<data>-<time>)"
    )
    t.add_argument("--no-plots", action="store_true", help="skip the pictures")
    t.add_argument("--quiet", action="store_true", help="print only the final summary")

    e = command("evaluate", "Metrics and confusion matrix of a saved model on a dataset.")
    e.add_argument("model", help="a model file written by 'nnscratch train'")
    e.add_argument("--data", default="mnist-sample", metavar="NAME|PATH")
    e.add_argument("--data-dir", metavar="DIR")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", metavar="DIR", help="also write metrics.json and plots here")

    p = command(
        "predict", "Classify digit images (PNG/JPEG) or rows of a CSV/NPZ with a saved model."
    )
    p.add_argument("model")
    p.add_argument("inputs", nargs="+", metavar="FILE")
    p.add_argument("--top", type=_positive_int, default=3, help="how many classes to show")

    s = command("summary", "Layers, shapes, parameter counts and training state of a saved model.")
    s.add_argument("model")

    g = command("gradcheck", "Check backpropagation against finite differences (float64).")
    g.add_argument("--hidden", type=_sizes, default=[8, 6])
    g.add_argument("--inputs", type=_positive_int, default=5)
    g.add_argument("--outputs", type=_positive_int, default=4)
    g.add_argument(
        "--activation", default="all", metavar="NAME", help="an activation name, or 'all'"
    )
    g.add_argument("--loss", default="all", metavar="NAME", help="a loss name, or 'all'")
    g.add_argument("--batch-size", type=_positive_int, default=16)
    g.add_argument("--seed", type=int, default=0)

    d = command("datasets", "List, download or verify datasets.")
    d.add_argument("action", choices=["list", "download", "verify"])
    d.add_argument("name", nargs="?", help="mnist or fashion-mnist (for download/verify)")
    d.add_argument("--data-dir", metavar="DIR")

    pl = command("plot", "Draw the pictures of a training run folder or a saved model.")
    pl.add_argument("source", help="a run folder (from 'nnscratch train') or a model file")
    pl.add_argument(
        "--data",
        default=None,
        metavar="NAME|PATH",
        help="dataset for confusion matrix/errors/regions",
    )
    pl.add_argument("--data-dir", metavar="DIR")
    pl.add_argument(
        "--out", metavar="DIR", help="where to write the pictures (default: the run folder)"
    )
    pl.add_argument("--format", choices=["png", "svg"], default="png")

    r = command(
        "reproduce", "Run every experiment of the source articles and compare with their figures."
    )
    r.add_argument(
        "--fast",
        action="store_true",
        help="fewer epochs where the article's runs are long (says so)",
    )
    r.add_argument(
        "--out", metavar="DIR", default="reproduce", help="where to write the table and figures"
    )
    r.add_argument("--data-dir", metavar="DIR", help="folder with full MNIST (for the MNIST rows)")
    r.add_argument("--only", metavar="NAMES", help="comma-separated experiment names to run")

    x = command("export", "Export a saved model to ONNX.")
    x.add_argument("model")
    x.add_argument("onnx_path", metavar="OUT.onnx")
    x.add_argument("--output", choices=["probabilities", "logits"], default="probabilities")
    x.add_argument("--opset", type=_positive_int, default=None)

    w = command("playground", "Start the local web playground.")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=8000)
    w.add_argument("--open", action="store_true", help="open it in a browser")

    b = command("bench", "Benchmark nnscratch against PyTorch, scikit-learn and the matmul floor.")
    b.add_argument(
        "--fast", action="store_true", help="a quick smoke run (not for quoting figures)"
    )
    b.add_argument("--out", metavar="DIR", default="benchmarks/results")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from . import commands

    try:
        return int(getattr(commands, args.command)(args) or 0)
    except KeyboardInterrupt:
        print("nnscratch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure becomes one line unless --verbose
        if getattr(args, "verbose", False):
            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"nnscratch: error: {message}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
