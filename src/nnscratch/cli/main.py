"""The ``nnscratch`` command line: train, evaluate, predict, reproduce the articles, and more.

Every error a user can cause ends as one line on stderr ("nnscratch: error: ...", more lines
only where the error lists where it looked) and a non-zero exit code; ``--verbose`` adds the
traceback. Output into a pipe whose reader has gone (``| head``) ends quietly with exit 141.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NoReturn, TypeVar

from .. import __version__
from ..i18n import LANGS

if TYPE_CHECKING:
    from ..training.threads import Threads

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: what a shell reports for a tool killed by SIGPIPE (128 + 13), as ``yes | head`` shows
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


_N = TypeVar("_N", int, float)


def _number(
    parse: Callable[[str], _N], accept: Callable[[_N], bool], expected: str
) -> Callable[[str], _N]:
    """An argparse type: ``parse`` the text, then require ``accept(value)``."""

    def convert(text: str) -> _N:
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


def _threads(text: str) -> Threads:
    """An argparse type: BLAS threads, 'auto' or a positive integer."""
    from ..training.threads import parse_threads

    try:
        return parse_threads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_THREADS_HELP = (
    "threads for the matrix products: auto (default: 1 for small networks and batches or when "
    "other processes keep the cores busy, else one per free core) or a number"
)


def _int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high`` inclusive."""
    return _number(int, lambda v: low <= v <= high, f"an integer from {low} to {high}")


#: NumPy's Generator takes any non-negative seed, but RandomState (and so scikit-learn's
#: random_state) stops at 2**32 - 1: a seed in that range can be reused with either
_seed = _int_range(0, 2**32 - 1)
_port = _int_range(0, 65535)


def _layer_sizes(maximum: int) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated layer sizes, each from 1 to ``maximum``; "none", "-"
    or nothing at all mean no hidden layer. An empty element (``10,,20``, ``10,``) is refused
    rather than skipped: it is more likely a lost digit than an intended gap."""

    def convert(text: str) -> list[int]:
        if text.strip().lower() in ("", "none", "-"):
            return []
        sizes = []
        for position, part in enumerate(text.split(","), start=1):
            part = part.strip()
            if not part:
                raise argparse.ArgumentTypeError(
                    f"layer size {position} of {text!r} is empty; expected comma-separated "
                    "sizes such as 256,128 (or none for no hidden layer)"
                )
            try:
                size = int(part)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected comma-separated layer sizes such as 256,128, got {text!r}"
                ) from None
            if not 1 <= size <= maximum:
                raise argparse.ArgumentTypeError(
                    f"layer sizes must be from 1 to {maximum}, got {part} in {text!r}"
                )
            sizes.append(size)
        return sizes

    return convert


def _experiment_names(text: str) -> list[str]:
    """An argparse type: comma-separated names, none of them empty (an empty list would mean
    every experiment, which is not what a typo should start)."""
    names = [part.strip() for part in text.split(",")]
    for position, name in enumerate(names, start=1):
        if not name:
            raise argparse.ArgumentTypeError(
                f"name {position} of {text!r} is empty; expected comma-separated experiment "
                "names such as seed000,seed003"
            )
    return names


_sizes = _layer_sizes(1_000_000)
#: gradcheck runs two forward passes per parameter, so its networks stay small
_small_sizes = _layer_sizes(1000)


def _layer_spec(text: str) -> str:
    """An argparse type: a network spec (``core.spec``), checked and written canonically."""
    from ..core.spec import format_layers, parse_layers

    try:
        return format_layers(parse_layers(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _augment_spec(text: str) -> str:
    """An argparse type: image transforms (``cli.augmentation``), written canonically ("none"
    stays "none", so that --resume can tell it from a flag left out)."""
    from .augmentation import canonical_augment

    try:
        return canonical_augment(text) or "none"
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _image_shape(text: str) -> tuple[int, ...]:
    """An argparse type: a per-sample shape CxHxW (or N for flat rows), each side 1 to 64."""
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) not in (1, 3) or not all(p.isdigit() and 1 <= int(p) <= 64 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected CxHxW such as 1x8x8 (or N for flat rows), each from 1 to 64, got {text!r}"
        )
    return tuple(int(p) for p in parts)


_LAYERS_HELP = (
    "the whole network as comma-separated layers, e.g. conv:32x5,relu,maxpool:2,flatten,"
    "dense:10 (not with --hidden, --activation, --dropout or --batch-norm). Tokens: conv:CxK[:same|:valid][:stride=S][:pad=P][:nobias], maxpool:K, "
    "avgpool:K (options :stride=S, :pad=P), gap, flatten, reshape:CxHxW, dense:N, dropout:R, "
    "batchnorm, and any activation name. The spec ends with the output layer, dense:K with K "
    "the number of classes (1 for regression); the loss adds its own output activation. With "
    "mnist, fashion-mnist or mnist-sample a spec that starts with conv or a pooling layer "
    "reads the images as 1x28x28"
)


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
    parser.add_argument(
        "--threads", type=_threads, default="auto", metavar="N|auto", help=_THREADS_HELP
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks on errors",
        )
        p.add_argument(  # also after the command: nnscratch train --threads 1
            "--threads",
            type=_threads,
            default=argparse.SUPPRESS,
            metavar="N|auto",
            help=_THREADS_HELP,
        )
        return p

    def hyphen(names: Iterable[str]) -> list[str]:
        return sorted(n.replace("_", "-") for n in names)

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
    t.add_argument("--layers", type=_layer_spec, default=None, metavar="SPEC", help=_LAYERS_HELP)
    t.add_argument(
        "--augment",
        type=_augment_spec,
        default=None,
        metavar="SPEC",
        help="transform every training batch of images afresh: shift[:N] (default 1 pixel), "
        "rotate[:DEGREES] (default 10), affine[:degrees=D][:shift=S][:scale=K][:shear=H] "
        "(default 10, 2, 0.1, 10), comma-separated to combine, e.g. shift:1,rotate:10; image "
        "data only",
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
        default=None,
        help="share of training data held out for validation (default 0.1; 0 for a set "
        "too small to hold out one sample)",
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
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument(
        "--out", metavar="DIR", default=None, help="output folder (default runs/<data>-<time>)"
    )
    t.add_argument("--no-plots", action="store_true", help="skip the pictures")
    t.add_argument("--quiet", action="store_true", help="print only the final summary")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="train into a --out folder that holds an earlier run, removing that run's files "
        "(and only those)",
    )
    t.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the interrupted run in DIR with its recorded settings (bitwise as if "
        "never stopped); with --epochs, train a finished run further",
    )
    from .train import TRAIN_DEFAULTS

    # a setting left out parses to None, so that --resume can tell the flags given from the
    # defaults (the defaults themselves are commands.TRAIN_DEFAULTS, as the help above says)
    t.set_defaults(**dict.fromkeys(TRAIN_DEFAULTS))

    e = command("evaluate", "Metrics and confusion matrix of a saved model on a dataset.")
    e.add_argument("model", help="a model file written by 'nnscratch train'")
    e.add_argument(
        "--data",
        default=None,
        metavar="NAME|PATH",
        help="dataset to evaluate on (default: the one the model's run was trained on, as "
        "recorded in its folder, else mnist-sample)",
    )
    e.add_argument("--data-dir", metavar="DIR")
    e.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="seed of the train/test split of toy sets and CSV files (default: the run's, "
        "so that the test set is the one the run held out)",
    )
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
    g.add_argument("--hidden", type=_small_sizes, default=[8, 6])
    g.add_argument(
        "--layers",
        type=_layer_spec,
        default=None,
        metavar="SPEC",
        help="check this network instead (a --layers spec of 'nnscratch train', e.g. "
        "conv:3x3,tanh,maxpool:2,flatten,dense:4); its last layer's width is the output count",
    )
    g.add_argument(
        "--input-shape",
        type=_image_shape,
        default=None,
        metavar="CxHxW",
        help="sample shape for --layers, e.g. 1x8x8 (default: --inputs flat features)",
    )
    g.add_argument("--inputs", type=_int_range(1, 1000), default=5)
    g.add_argument("--outputs", type=_int_range(1, 1000), default=4)
    g.add_argument(
        "--activation", default="all", metavar="NAME", help="an activation name, or 'all'"
    )
    g.add_argument("--loss", default="all", metavar="NAME", help="a loss name, or 'all'")
    g.add_argument("--batch-size", type=_int_range(1, 10000), default=16)
    g.add_argument("--seed", type=_seed, default=0)

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
    r.add_argument(
        "--only",
        type=_experiment_names,
        metavar="NAMES",
        help="comma-separated experiment names to run",
    )
    r.add_argument(
        "--lang",
        choices=LANGS,
        default="en",
        help="language of the printed table and results.md: en (English) or zh (Chinese, "
        "中文); numbers, units and names stay as they are, results.json stays English",
    )

    x = command("export", "Export a saved model to ONNX.")
    x.add_argument("model")
    x.add_argument("onnx_path", metavar="OUT.onnx")
    x.add_argument("--output", choices=["probabilities", "logits"], default="probabilities")
    x.add_argument("--opset", type=_positive_int, default=None)

    w = command("playground", "Start the local web playground.")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=_port, default=8000)
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
    from ..training.threads import use_threads
    from . import commands

    try:
        with use_threads(args.threads):
            code = int(getattr(commands, args.command)(args) or 0)
        sys.stdout.flush()  # a reader that went away shows here, not in the exit's own flush
        return code
    except BrokenPipeError:
        # the reader closed the pipe (``nnscratch evaluate ... | head``): stop quietly, as Unix
        # tools do. Python's recipe (see "Note on SIGPIPE" in the signal module's docs): point
        # stdout at devnull so that the interpreter's last flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("nnscratch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure becomes a message, the traceback only if --verbose
        if getattr(args, "verbose", False):
            traceback.print_exc()
        # a message of several lines (where a dataset was looked for) is kept whole
        message = str(exc).strip() or type(exc).__name__
        print(f"nnscratch: error: {message}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
