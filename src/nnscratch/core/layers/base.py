"""The layer contract: ``Parameter``, ``Layer`` and the registry that saves and rebuilds layers.

Each layer keeps what its backward pass needs from the forward pass, and exposes its trainable
arrays as ``Parameter`` objects (value + gradient) through ``parameters()``: an optimizer updates
any layer through that list without knowing what the layer is.

Shapes. A layer sees a batch as an array of N samples, and describes one sample by its *shape*:
``(n,)`` for a row of n features (what the dense networks of the articles pass around) and
``(C, H, W)`` for an image of C channels of H x W pixels, so a batch of images is N x C x H x W,
the layout of PyTorch and of Saito's chapter 7. ``build`` receives the input shape (an integer n
stands for ``(n,)``), checks it through ``compute_output_shape`` and creates the parameters;
``input_dim`` and ``output_dim`` remain as the number of values per sample (the product of the
shape), so code written for flat rows keeps working.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

# re-exported: the layer modules import ``Array`` from here along with ``Shape``
from .._types import Array as Array
from .._types import FloatDType

Shape = tuple[int, ...]


@dataclass(eq=False)
class Parameter:
    """A trainable array and the gradient of the loss with respect to it.

    ``kind`` is ``"weight"`` for arrays that regularization should shrink and ``"bias"`` for the
    ones it should leave alone (biases, batch-norm shifts and scales), as in Nielsen's L2.
    Updates must be made in place (``p.value -= ...``): the arrays may be views into one
    contiguous buffer shared by the whole network.
    """

    name: str
    value: Array
    grad: Array
    kind: str = "weight"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape


def as_shape(shape: int | tuple[int, ...] | list[int], what: str = "input shape") -> Shape:
    """A per-sample shape as a tuple of positive ints; an int n means ``(n,)``."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        dims: tuple[int | np.integer[Any], ...] = (shape,)
    elif isinstance(shape, (tuple, list)):
        dims = tuple(shape)
    else:
        raise ValueError(f"{what} must be a positive integer or a tuple of them, got {shape!r}")
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims
    ):
        raise ValueError(f"{what} must be a positive integer or a tuple of them, got {shape!r}")
    return tuple(int(d) for d in dims)


def shape_text(shape: Shape | None) -> str:
    """``(1, 28, 28)`` as ``1x28x28``, the way the books write image sizes."""
    return "?" if shape is None else "x".join(str(d) for d in shape)


def values_per_sample(rows: Iterable[tuple[Layer, Shape, Shape]], training: bool = True) -> int:
    """How many values one sample needs on its way through the layers ``rows`` of
    (layer, input shape, output shape): the input, then per layer its output, and in training
    also the activation's saved input and the backward gradient (3 x the output), plus each
    layer's own scratch (``Layer.scratch_per_sample``: im2col matrices, padded copies). Works
    on unbuilt layers, so memory can be checked before anything is allocated."""
    table = list(rows)
    if not table:
        return 0
    total = math.prod(table[0][1])
    for index, (layer, shape_in, shape_out) in enumerate(table):
        total += (3 if training else 1) * math.prod(shape_out)
        total += layer.scratch_per_sample(shape_in, shape_out, first=index == 0 or not training)
    return int(total)


class Layer:
    """Base class. Subclasses implement ``forward``, ``backward`` and ``config``; layers with
    parameters also ``build``, layers that change the shape ``compute_output_shape``, and
    layers that hold arrays ``weight_shapes``."""

    #: Whether the layer's output shape equals its input shape (activations, dropout...).
    keeps_width = True

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.dtype: FloatDType = np.dtype(np.float32)
        self._buffers: dict[str, Array] = {}

    # -- shapes ------------------------------------------------------------------------------
    @property
    def input_dim(self) -> int | None:
        """Values per input sample: n for rows of n features, C*H*W for images."""
        return None if self.input_shape is None else math.prod(self.input_shape)

    @input_dim.setter
    def input_dim(self, value: int | None) -> None:
        self.input_shape = None if value is None else (int(value),)

    @property
    def output_dim(self) -> int | None:
        """Values per output sample (the product of ``output_shape``)."""
        return None if self.output_shape is None else math.prod(self.output_shape)

    @output_dim.setter
    def output_dim(self, value: int | None) -> None:
        self.output_shape = None if value is None else (int(value),)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample output shape for ``input_shape``; a ValueError naming the layer and
        the shapes when the layer cannot take that input. Allocates nothing, so a model file's
        description can be checked with it before any array is read."""
        return input_shape

    def weight_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        """Shapes of the arrays the layer saves (parameters, then state) for ``input_shape``."""
        return {}

    def scratch_per_sample(self, input_shape: Shape, output_shape: Shape, first: bool) -> int:
        """Values per sample that a training step keeps besides the layer's output, its saved
        input of the activation and its gradient (0 for most layers; ``first``: the network's
        first layer, whose input gradient training skips). Used to size memory before
        allocating (``values_per_sample``)."""
        return 0

    # -- construction ------------------------------------------------------------------------
    def build(
        self, input_shape: int | Shape, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> None:
        """Check ``input_shape`` (per sample; an int n means ``(n,)``), set the output shape
        and create the parameters."""
        shape = as_shape(input_shape, f"the input shape of {self.describe()}")
        self.output_shape = self.compute_output_shape(shape)
        self.input_shape = shape
        self.dtype = np.dtype(dtype)

    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def built_shapes(self) -> tuple[Shape, Shape]:
        """(input shape, output shape) of a built layer; a RuntimeError naming the layer when
        ``build`` has not run yet (forward and backward need both shapes)."""
        if self.input_shape is None or self.output_shape is None:
            raise RuntimeError(
                f"{self.describe()} is not built yet: call build(input_shape, rng) first "
                "(a Network builds its layers)"
            )
        return self.input_shape, self.output_shape

    def parameters(self) -> list[Parameter]:
        return []

    def state(self) -> dict[str, Array]:
        """Non-trainable arrays that are part of the model (batch-norm running statistics)."""
        return {}

    def set_state(self, state: dict[str, Array]) -> None:
        for key, value in state.items():
            np.copyto(getattr(self, key), value)

    # -- computation -------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """The layer's output for the batch ``x`` (one sample per row); ``training`` turns on
        what only training does (dropout's mask, batch norm's batch statistics).

        The result may live in a scratch buffer of the layer (``_buffer``) that the next call
        overwrites, so that training allocates nothing per batch: copy it (``.copy()``) to
        keep it past the next call. ``Network.forward``, ``Network.predict`` and
        ``Model.predict`` return arrays of their own.
        """
        raise NotImplementedError

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        """The gradient of the loss with respect to the layer's input, given ``grad_output``
        (with respect to its output), for the batch of the last ``forward``; the parameters'
        gradients land in their ``Parameter.grad``. ``need_input_grad=False`` (the first
        layer) skips the input gradient and returns None. Like ``forward``'s, the result may
        be a reused buffer."""
        raise NotImplementedError

    #: Attributes that hold what the last forward pass computed (for the backward pass); they
    #: are not part of the model and are dropped when a layer is copied or pickled.
    _TRANSIENT = ("_x", "_z", "_a", "_mask", "_cache", "_cols", "_arg")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_buffers"] = {}
        for key in self._TRANSIENT:
            if key in state:
                state[key] = None
        return state

    def _buffer(
        self,
        key: str,
        shape: tuple[int, ...],
        fill: float | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> Array:
        """A scratch array of ``shape`` reused across calls.

        One allocation serves every batch up to the largest seen so far (a view of its first
        rows is returned), so an epoch's smaller last batch or a final inference chunk does
        not allocate fresh memory, whose first touch costs page faults. ``fill`` initialises a
        *new* allocation (the frame of a padded image, which nothing overwrites afterwards);
        ``dtype`` defaults to the layer's.
        """
        want = self.dtype if dtype is None else np.dtype(dtype)
        buf = self._buffers.get(key)
        if (
            buf is None
            or buf.shape[1:] != shape[1:]
            or buf.shape[0] < shape[0]
            or buf.dtype != want
        ):
            buf = np.empty(shape, want) if fill is None else np.full(shape, fill, want)
            self._buffers[key] = buf
        return buf[: shape[0]]

    # -- description -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe_args()})"

    def describe_args(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items() if v is not None)


# -- the registry: saving and rebuilding layers -----------------------------------------------
#: Layer classes by the type name a model file records; every family registers its own.
LAYER_TYPES: dict[str, type[Layer]] = {}


_L = TypeVar("_L", bound=Layer)


def register_layer(kind: str) -> Callable[[type[_L]], type[_L]]:
    """Class decorator: record a layer class under ``kind`` for ``layer_from_config``."""

    def register(cls: type[_L]) -> type[_L]:
        LAYER_TYPES[kind] = cls
        return cls

    return register


def layer_config(layer: Layer) -> dict[str, Any]:
    """A JSON-ready description of a layer: its type name plus constructor arguments."""
    kind = next((k for k, v in LAYER_TYPES.items() if type(layer) is v), None)
    if kind is None:
        raise ValueError(f"layer type {type(layer).__name__} cannot be saved: it is not registered")
    return {"type": kind, **layer.config()}


def layer_from_config(config: Mapping[str, Any]) -> Layer:
    """The inverse of ``layer_config`` (the layer is not built)."""
    kwargs = dict(config)
    kind = kwargs.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(
            f"unknown layer type {kind!r} in model description; expected one of {sorted(LAYER_TYPES)}"
        )
    act_conf = kwargs.pop("activation_config", None) or {}
    if "activation" in kwargs:
        from ..activations import ACTIVATIONS

        name = kwargs["activation"]
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r} in model description")
        kwargs["activation"] = ACTIVATIONS[name](**act_conf)
    return LAYER_TYPES[kind](**kwargs)
