"""The text spec of a network: one short line that the CLI, the sklearn estimators and the web
pages share, for example (Nielsen's chapter 6 network)::

    conv:20x5,relu,maxpool:2,conv:40x5,relu,maxpool:2,flatten,dense:100,relu,dense:10

Tokens, separated by commas (case and spaces do not matter):

==========================  =================================================================
``conv:CxK``                ``Conv2D(C, K)``: C filters of K x K (``conv:CxKHxKW`` for
                            a K_H x K_W kernel); options after colons: ``same`` or ``valid``,
                            ``stride=S`` (or ``SxS2``), ``pad=P`` (or ``PxP2``), ``nobias``,
                            e.g. ``conv:32x3:same``, ``conv:32x5:stride=2:pad=1``
``maxpool:K``, ``avgpool:K`` ``MaxPool2D(K)`` / ``AvgPool2D(K)`` (stride K), options
                            ``stride=S`` and ``pad=P``
``gap``                     ``GlobalAvgPool2D`` (alias ``globalavgpool``)
``flatten``                 ``Flatten``: C x H x W -> C*H*W
``reshape:CxHxW``           ``Reshape((C, H, W))``; ``reshape:HxW`` means ``1xHxW`` (one
                            channel), ``reshape:N`` flat rows of N
``dense:N``                 ``Dense(N)``
``dropout:R``               ``Dropout(R)``, 0 <= R < 1
``batchnorm``               ``BatchNorm`` (alias ``bn``); options ``momentum=M``, ``eps=E``
an activation name          any of ``core.activations.ACTIVATIONS`` (``relu``, ``sigmoid``,
                            ``leaky_relu`` or ``leaky-relu``...); parameters as options,
                            ``leaky_relu:alpha=0.1`` (or ``leaky_relu:0.1``)
==========================  =================================================================

An activation right after a ``conv`` or ``dense`` token that has none is *fused* into that
layer (``Conv2D(C, K, activation="relu")``): the same function, one pass over memory fewer.

The spec names layers only: the input shape comes from the data, given to ``build_network``.
A spec that starts with ``conv`` needs images, ``input_shape=(C, H, W)``; for flat rows (784
pixels) start it with ``reshape:1x28x28`` or pass ``input_shape=(1, 28, 28)``.

Errors are ValueErrors that name the token (1-based position and text) and, when the network
is built, the shapes that do not fit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .activations import _ALIASES, ACTIVATIONS, Activation, Identity, Softmax
from .layers import (
    ActivationLayer,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    MaxPool2D,
    Reshape,
    as_shape,
)
from .layers.base import shape_text
from .network import Sequential

__all__ = ["parse_layers", "format_layers", "build_network", "layer_shapes"]

#: What each kind of token looks like, quoted by the error messages.
_USAGE = {
    "conv": "conv:CxK such as conv:32x5 (options :same, :valid, :stride=S, :pad=P, :nobias)",
    "maxpool": "maxpool:K such as maxpool:2 (options :stride=S, :pad=P)",
    "avgpool": "avgpool:K such as avgpool:2 (options :stride=S, :pad=P)",
    "gap": "gap (no argument)",
    "flatten": "flatten (no argument)",
    "reshape": "reshape:CxHxW such as reshape:1x28x28",
    "dense": "dense:N such as dense:100",
    "dropout": "dropout:R with 0 <= R < 1, such as dropout:0.5",
    "batchnorm": "batchnorm (options :momentum=M, :eps=E)",
}
#: Accepted spellings of each layer kind (after lower-casing and dropping '_' and '-').
_KINDS = {
    "conv": "conv",
    "conv2d": "conv",
    "maxpool": "maxpool",
    "maxpool2d": "maxpool",
    "avgpool": "avgpool",
    "avgpool2d": "avgpool",
    "gap": "gap",
    "globalavgpool": "gap",
    "globalavgpool2d": "gap",
    "flatten": "flatten",
    "reshape": "reshape",
    "dense": "dense",
    "dropout": "dropout",
    "batchnorm": "batchnorm",
    "bn": "batchnorm",
}
_INT = re.compile(r"^[0-9]+$")


@dataclass
class _Token:
    position: int  # 1-based, as a person counts
    text: str  # as written (stripped), for messages

    def __str__(self) -> str:
        return f"token {self.position} {self.text!r}"


class _TokenError(ValueError):
    pass


def _fail(token: _Token, message: str) -> _TokenError:
    return _TokenError(f"{token}: {message}")


def _tokens(spec: str) -> list[_Token]:
    if not isinstance(spec, str):
        raise ValueError(f"a layer spec must be a string, got {type(spec).__name__}")
    if not spec.strip():
        raise ValueError(
            "the layer spec is empty; expected comma-separated layers such as "
            "conv:32x5,relu,maxpool:2,flatten,dense:10"
        )
    tokens = [_Token(i + 1, part.strip()) for i, part in enumerate(spec.split(","))]
    for token in tokens:
        if not token.text:
            raise ValueError(
                f"token {token.position} of {spec.strip()!r} is empty (two commas in a row, or a "
                "comma at an end?); expected comma-separated layers such as conv:32x5,relu"
            )
    return tokens


def _dims(text: str, count: tuple[int, ...], token: _Token, usage: str) -> tuple[int, ...]:
    """'32x5' -> (32, 5): positive ints separated by 'x', as many as one of ``count``."""
    parts = text.split("x")
    if len(parts) not in count or not all(_INT.match(p) for p in parts):
        raise _fail(token, f"expected {usage}")
    values = tuple(int(p) for p in parts)
    if any(v < 1 for v in values):
        raise _fail(token, f"sizes must be positive integers; expected {usage}")
    return values


def _pair(text: str, token: _Token, what: str, usage: str, minimum: int) -> tuple[int, int]:
    parts = text.split("x")
    if len(parts) not in (1, 2) or not all(_INT.match(p) for p in parts):
        raise _fail(token, f"{what} must be an integer or HxW, got {text!r}; expected {usage}")
    values = tuple(int(p) for p in parts)
    if any(v < minimum for v in values):
        bound = "positive" if minimum == 1 else f"at least {minimum}"
        raise _fail(token, f"{what} must be {bound}, got {text!r}; expected {usage}")
    return (values[0], values[-1])


def _options(
    parts: list[str], token: _Token, allowed: dict[str, str], usage: str
) -> dict[str, str]:
    """'key=value' (or bare flags) after the first colon, checked against ``allowed``."""
    found: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        key = {"padding": "pad", "s": "stride", "p": "pad"}.get(key, key)
        if key not in allowed or (allowed[key] == "flag") == bool(eq):
            raise _fail(token, f"unknown option {part!r}; expected {usage}")
        if key in found:
            raise _fail(token, f"option {key!r} is given twice")
        found[key] = value
    return found


def _float(text: str, token: _Token, what: str, usage: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(token, f"{what} must be a number, got {text!r}; expected {usage}") from None
    if not math.isfinite(value):
        raise _fail(token, f"{what} must be a finite number, got {text!r}; expected {usage}")
    return value


def _activation_key(name: str) -> str | None:
    key = name.replace("-", "_")
    key = _ALIASES.get(key, key)
    return key if key in ACTIVATIONS else None


def _activation(key: str, parts: list[str], token: _Token) -> Activation:
    cls = ACTIVATIONS[key]
    params = list(cls().config())
    usage = (
        f"{key}" + "".join(f"[:{p}=X]" for p in params)
        if params
        else f"{key} (no argument; a colon belongs after conv or dense only)"
    )
    kwargs: dict[str, float] = {}
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq and len(params) == 1:  # leaky_relu:0.1 for leaky_relu:alpha=0.1
            name, value = params[0], part
        if name not in params or name in kwargs:
            raise _fail(token, f"unexpected {part!r}; expected {usage}")
        kwargs[name] = _float(value, token, name, usage)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise _fail(token, str(exc)) from None


def _layer(token: _Token) -> Layer | Activation:
    """The layer (or, for an activation name, the Activation) one token describes."""
    text = re.sub(r"\s+", "", token.text).lower()
    head, *parts = text.split(":")
    act = _activation_key(head)
    if act is not None:
        return _activation(act, parts, token)
    kind = _KINDS.get(head.replace("_", "").replace("-", ""))
    if kind is None:
        names = sorted({*_KINDS.values(), "globalavgpool", "bn"})
        raise _fail(
            token,
            f"unknown layer {head!r}; expected one of {', '.join(names)} or an activation "
            f"({', '.join(sorted(ACTIVATIONS))})",
        )
    usage = _USAGE[kind]
    if kind in ("gap", "flatten"):
        if parts:
            raise _fail(token, f"takes no argument; expected {usage}")
        return GlobalAvgPool2D() if kind == "gap" else Flatten()
    if kind == "batchnorm":
        opts = _options(parts, token, {"momentum": "value", "eps": "value"}, usage)
        values = {k: _float(v, token, k, usage) for k, v in opts.items()}
        try:  # the defaults are BatchNorm's own (also those ``_layer_tokens`` leaves out)
            return BatchNorm(momentum=values.get("momentum", 0.9), eps=values.get("eps", 1e-5))
        except ValueError as exc:
            raise _fail(token, str(exc)) from None
    if not parts or not parts[0]:
        raise _fail(token, f"missing size; expected {usage}")
    arg, rest = parts[0], parts[1:]
    try:
        if kind == "conv":
            dims = _dims(arg, (2, 3), token, usage)
            opts = _options(
                rest,
                token,
                {"same": "flag", "valid": "flag", "nobias": "flag", "stride": "v", "pad": "v"},
                usage,
            )
            paddings = [k for k in ("same", "valid", "pad") if k in opts]
            if len(paddings) > 1:
                raise _fail(token, f"give one padding, not {' and '.join(paddings)}")
            padding: int | tuple[int, int] | str = 0
            if "same" in opts:
                padding = "same"
            elif "pad" in opts:
                padding = _pair(opts["pad"], token, "pad", usage, 0)
            stride = _pair(opts["stride"], token, "stride", usage, 1) if "stride" in opts else 1
            return Conv2D(
                dims[0],
                dims[1:] if len(dims) == 3 else dims[1],
                stride=stride,
                padding=padding,
                use_bias="nobias" not in opts,
            )
        if kind in ("maxpool", "avgpool"):
            size = _pair(arg, token, "pool size", usage, 1)
            opts = _options(rest, token, {"stride": "v", "pad": "v"}, usage)
            pool_stride = (
                _pair(opts["stride"], token, "stride", usage, 1) if "stride" in opts else None
            )
            pad = _pair(opts["pad"], token, "pad", usage, 0) if "pad" in opts else 0
            cls = MaxPool2D if kind == "maxpool" else AvgPool2D
            return cls(size, stride=pool_stride, padding=pad)
        if rest:
            raise _fail(token, f"unexpected {':'.join(rest)!r}; expected {usage}")
        if kind == "reshape":
            dims = _dims(arg, (1, 2, 3), token, usage)
            return Reshape((1, *dims) if len(dims) == 2 else dims)
        if kind == "dense":
            return Dense(_dims(arg, (1,), token, usage)[0])
        rate = _float(arg, token, "the rate", usage)
        if not 0.0 <= rate < 1.0:
            raise _fail(token, f"the rate must be in [0, 1), got {arg}; expected {usage}")
        return Dropout(rate)
    except _TokenError:
        raise
    except ValueError as exc:  # the layer's own check (e.g. pool padding over half the window)
        raise _fail(token, str(exc)) from None


def _fusable(layer: Layer, act: Activation) -> bool:
    if not isinstance(layer, (Conv2D, Dense)) or type(layer.activation) is not Identity:
        return False
    if not act.differentiable:  # a trainable layer refuses it; keep it a layer of its own
        return False
    return not (isinstance(layer, Conv2D) and isinstance(act, Softmax))


def _parse(spec: str) -> list[tuple[Layer, _Token]]:
    """Layers with the token each came from (a fused activation's layer keeps its own token)."""
    out: list[tuple[Layer, _Token]] = []
    fused_last = False
    for token in _tokens(spec):
        item = _layer(token)
        if isinstance(item, Activation):
            if out and not fused_last and _fusable(out[-1][0], item):
                # rebuilt rather than assigned: the default initializer follows the activation
                # (He for ReLU, Glorot otherwise), as for Conv2D(..., activation="relu")
                config = out[-1][0].config()
                config.pop("activation_config")
                config["activation"] = item
                out[-1] = (type(out[-1][0])(**config), out[-1][1])
                fused_last = True
                continue
            item = ActivationLayer(item)
        out.append((item, token))
        fused_last = False
    return out


def parse_layers(spec: str) -> list[Layer]:
    """Fresh, unbuilt layers from a comma-separated spec (see the module docstring).

    >>> [layer.describe() for layer in parse_layers("conv:8x3:same, ReLU, maxpool:2, flatten, dense:10")]
    ['Conv2D(8, 3x3, same, relu)', 'MaxPool2D(2x2)', 'Flatten', 'Dense(10)']

    A ValueError names the bad token, e.g. ``token 1 'conv:32y5': expected conv:CxK such as
    conv:32x5 ...``.
    """
    return [layer for layer, _ in _parse(spec)]


def takes_images(spec: str) -> bool:
    """Whether a spec's network reads images (C x H x W) rather than flat rows: its first layer
    that is not shape-agnostic (an activation, batch norm, dropout) is a convolution or a
    pooling layer. ``nnscratch train --layers`` and the playground's digits page both feed
    MNIST as 1 x 28 x 28 images to such a network.

    >>> takes_images("batchnorm, conv:8x3, relu, flatten, dense:10"), takes_images("dense:64")
    (True, False)
    """
    agnostic = (ActivationLayer, BatchNorm, Dropout)
    first = next((layer for layer in parse_layers(spec) if not isinstance(layer, agnostic)), None)
    return isinstance(first, (Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D))


# -- formatting ---------------------------------------------------------------------------------
def _num(value: float) -> str:
    return repr(float(value)) if float(value) != int(value) else str(int(value))


def _size(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def _activation_token(act: Activation) -> str:
    if type(act) not in ACTIVATIONS.values():
        raise ValueError(f"activation {act!r} is not one of the named activations; no spec for it")
    defaults = type(act)().config()
    opts = "".join(f":{k}={_num(v)}" for k, v in act.config().items() if defaults.get(k) != v)
    return act.name + opts


def _layer_tokens(i: int, layer: Layer) -> list[str]:
    if isinstance(layer, Conv2D):
        kh, kw = layer.kernel_size
        text = f"conv:{layer.channels}x{kh}" + ("" if kh == kw else f"x{kw}")
        if layer.stride != (1, 1):
            text += f":stride={_size(layer.stride)}"
        if isinstance(layer.padding, str):  # "same", the only padding kept as a word
            text += ":same"
        elif any(layer.padding):
            text += f":pad={_size(layer.padding)}"
        if not layer.use_bias:
            text += ":nobias"
        tokens = [text]
    elif isinstance(layer, Dense):
        tokens = [f"dense:{layer.units}"]
    elif isinstance(layer, (MaxPool2D, AvgPool2D)):
        text = ("maxpool:" if isinstance(layer, MaxPool2D) else "avgpool:") + _size(layer.pool_size)
        if layer.stride != layer.pool_size:
            text += f":stride={_size(layer.stride)}"
        if any(layer.padding):
            text += f":pad={_size(layer.padding)}"
        tokens = [text]
    elif isinstance(layer, GlobalAvgPool2D):
        tokens = ["gap"]
    elif isinstance(layer, Flatten):
        tokens = ["flatten"]
    elif isinstance(layer, Reshape):
        if len(layer.shape) == 2 or -1 in layer.shape:
            raise ValueError(
                f"layer {i} ({layer.describe()}) has no spec: reshape tokens take CxHxW or N"
            )
        tokens = ["reshape:" + "x".join(map(str, layer.shape))]
    elif isinstance(layer, Dropout):
        tokens = [f"dropout:{_num(layer.rate)}"]
    elif isinstance(layer, BatchNorm):
        text = "batchnorm"
        if layer.momentum != 0.9:
            text += f":momentum={_num(layer.momentum)}"
        if layer.eps != 1e-5:
            text += f":eps={_num(layer.eps)}"
        tokens = [text]
    elif isinstance(layer, ActivationLayer):
        return [_activation_token(layer.activation)]
    else:
        raise ValueError(f"layer {i} ({layer.describe()}) has no text spec")
    act = getattr(layer, "activation", None)
    if act is not None and not isinstance(act, Identity):
        tokens.append(_activation_token(act))
    return tokens


def format_layers(layers: Sequential | list[Layer]) -> str:
    """The canonical spec of a list of layers or a ``Sequential``.

    ``parse_layers(format_layers(layers))`` gives the same network (same layers, same shapes,
    same function); a layer's fused activation is written as the token after it, which
    parsing fuses back. Initializers and dropout seeds are not part of a spec.
    """
    items = layers.layers if isinstance(layers, Sequential) else list(layers)
    if not items:
        raise ValueError("no layers to describe")
    return ",".join(tok for i, layer in enumerate(items) for tok in _layer_tokens(i, layer))


# -- building -----------------------------------------------------------------------------------
def _reshape_hint(shape: tuple[int, ...]) -> str:
    n = math.prod(shape)
    for c in (1, 3):
        side = math.isqrt(n // c)
        if n % c == 0 and side * side * c == n:
            return f"reshape:{c}x{side}x{side}"
    return "reshape:CxHxW"  # "dims" then reads "C, H, W"


def layer_shapes(
    spec: str, input_shape: int | tuple[int, ...]
) -> list[tuple[str, Layer, tuple[int, ...], tuple[int, ...]]]:
    """(token text, unbuilt layer, input shape, output shape) for each layer of ``spec`` on
    samples of ``input_shape``, computed without allocating any array (so that a caller can
    estimate memory before building); raises the errors ``build_network`` raises."""
    return [(t.text, layer, i, o) for t, layer, i, o in _walk(spec, input_shape)]


def _walk(
    spec: str, input_shape: int | tuple[int, ...]
) -> list[tuple[_Token, Layer, tuple[int, ...], tuple[int, ...]]]:
    parsed = _parse(spec)
    shape = as_shape(input_shape, "input_shape")
    rows = []
    current = shape
    for index, (layer, token) in enumerate(parsed):
        if (
            index == 0
            and len(shape) == 1
            and isinstance(layer, (Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D))
        ):
            hint = _reshape_hint(shape)
            dims = hint.partition(":")[2].replace("x", ", ")
            raise ValueError(
                f"{token}: {layer.describe()} takes images (C, H, W), but the input is flat "
                f"rows of {shape[0]} features; start the spec with {hint} (in Python, or "
                f"pass input_shape=({dims}))"
            )
        try:
            output = layer.compute_output_shape(current)
        except ValueError as exc:
            raise ValueError(
                f"{token} (input {shape_text(current)}): {_spec_words(str(exc))}"
            ) from None
        rows.append((token, layer, current, output))
        current = output
    return rows


def build_network(
    spec: str,
    input_shape: int | tuple[int, ...],
    *,
    seed: int | np.random.Generator | None = None,
    dtype: np.dtype | type = np.float32,
    weight_init: str | None = None,
) -> Sequential:
    """Parse ``spec`` and build it for samples of ``input_shape``: an int n (or ``(n,)``) for
    flat rows of n features, ``(C, H, W)`` for images.

    Nothing is reshaped implicitly: a spec that starts with an image layer (``conv``, a pool)
    on flat rows is refused with a hint (``reshape:1x28x28`` first, or
    ``input_shape=(1, 28, 28)``). Any layer that cannot take what comes before it (a ``dense``
    after a ``conv`` without ``flatten``, a kernel larger than its input) raises a ValueError
    naming the token and the shapes. ``weight_init`` (an initializer name such as ``"he"``)
    replaces the default of every ``conv`` and ``dense`` layer (He for ReLU, Glorot otherwise).
    """
    rows = _walk(spec, input_shape)
    layers = [layer for _, layer, _, _ in rows]
    if weight_init is not None:
        from .initializers import get_initializer

        init = get_initializer(weight_init)
        for layer in layers:
            if isinstance(layer, (Conv2D, Dense)):
                layer.weight_init = init
    shape = as_shape(input_shape, "input_shape")
    try:
        return Sequential(layers, input_shape=shape, seed=seed, dtype=dtype)
    except ValueError as exc:
        match = re.match(r"layer (\d+): (.*)", str(exc), re.DOTALL)
        if match is None or int(match.group(1)) >= len(rows):
            raise
        raise ValueError(f"{rows[int(match.group(1))][0]}: {_spec_words(match.group(2))}") from None


def _spec_words(message: str) -> str:
    """A layer's advice in Python terms, translated into spec tokens."""
    return (
        message.replace("put Flatten() before it", "put flatten before it")
        .replace("put Flatten() in between", "put flatten in between")
        .replace("put Reshape((C, H, W)) first", "put reshape:CxHxW first")
        .replace("use it after Flatten() and a Dense layer", "use it after flatten and dense")
    )
