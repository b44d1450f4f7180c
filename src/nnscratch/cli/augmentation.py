"""``--augment``: a short text for the on-the-fly image transforms of ``nnscratch.data.augment``.

Comma-separated transforms, applied in order to every training batch (case and spaces do not
matter):

- ``shift[:N]``: ``RandomShift(N)``, whole-pixel shifts of up to N pixels (default 1, Nielsen's
  expanded MNIST);
- ``rotate[:D]``: ``RandomRotation(D)``, angles drawn from [-D, D] degrees (default 10);
- ``affine[:degrees=D][:shift=S][:scale=K][:shear=H]``: ``RandomAffine``, rotation, sub-pixel
  shift, scaling in [1 - K, 1 + K] and shear at once; unnamed values keep their defaults
  (degrees 10, shift 2, scale 0.1, shear 10);
- ``none``: no augmentation.

``canonical_augment`` checks the text and writes it in one canonical form (every value spelt
out), which ``nnscratch train`` records in run.json so that ``--resume`` rebuilds the same
transforms; ``build_augment`` makes the transform for images of a given shape.
"""

from __future__ import annotations

import math
import re

from ..data.augment import Augmenter, Compose, RandomAffine, RandomRotation, RandomShift

USAGE = (
    "shift[:N], rotate[:DEGREES], affine[:degrees=D][:shift=S][:scale=K][:shear=H] or none, "
    "comma-separated, e.g. shift:1,rotate:10"
)
AFFINE_DEFAULTS = {"degrees": 10.0, "shift": 2.0, "scale": 0.1, "shear": 10.0}
_KINDS = {"shift": "shift", "rotate": "rotate", "rotation": "rotate", "affine": "affine"}


def _num(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def _number(text: str, where: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {what} must be a finite number, got {text!r}")
    return value


def _one(position: int, text: str) -> str:
    """The canonical text of one transform (checked by building it)."""
    where = f"transform {position} {text!r}"
    head, *parts = re.sub(r"\s+", "", text).lower().split(":")
    kind = _KINDS.get(head)
    if kind is None:
        raise ValueError(f"{where}: unknown transform {head!r}; expected {USAGE}")
    if kind in ("shift", "rotate"):
        if len(parts) > 1:
            raise ValueError(f"{where}: takes one value; expected {USAGE}")
        if kind == "shift":
            value = parts[0] if parts else "1"
            if not value.isdigit() or int(value) < 1:
                raise ValueError(
                    f"{where}: the shift must be a whole number of pixels >= 1, got {value!r}"
                )
            return f"shift:{int(value)}"
        degrees = _number(parts[0], where, "the angle") if parts else 10.0
        if not 0 < degrees <= 180:
            raise ValueError(f"{where}: the angle must be in (0, 180] degrees, got {_num(degrees)}")
        return f"rotate:{_num(degrees)}"
    values = dict(AFFINE_DEFAULTS)
    seen = set()
    for part in parts:
        key, eq, value = part.partition("=")
        if key not in AFFINE_DEFAULTS or not eq or key in seen:
            raise ValueError(
                f"{where}: unexpected {part!r}; expected affine[:degrees=D][:shift=S]"
                "[:scale=K][:shear=H]"
            )
        seen.add(key)
        values[key] = _number(value, where, key)
    try:  # RandomAffine's own checks (shear below 60 degrees, scale below 1...)
        RandomAffine(values["degrees"], values["shift"], values["scale"], values["shear"])
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return "affine:" + ":".join(f"{k}={_num(v)}" for k, v in values.items())


def canonical_augment(text: str) -> str | None:
    """``text`` checked and written in canonical form; None for ``none``. A ValueError names
    the transform that does not parse."""
    if text.strip().lower() in ("none", ""):
        if not text.strip():
            raise ValueError(f"--augment is empty; expected {USAGE}")
        return None
    parts = [p.strip() for p in text.split(",")]
    for position, part in enumerate(parts, start=1):
        if not part:
            raise ValueError(f"transform {position} of {text!r} is empty; expected {USAGE}")
    return ",".join(_one(i, p) for i, p in enumerate(parts, start=1))


def build_augment(canonical: str | None, image_shape: tuple[int, int, int]) -> Augmenter | None:
    """The transform that ``canonical`` (from ``canonical_augment``) names, for images of
    ``image_shape`` (``(C, H, W)``; flat rows of C*H*W values are read as such images)."""
    text = None if canonical is None else canonical_augment(canonical)
    if text is None:
        return None
    transforms: list[Augmenter] = []
    for part in text.split(","):
        head, *values = part.split(":")
        if head == "shift":
            transforms.append(RandomShift(int(values[0]), image_shape=image_shape))
        elif head == "rotate":
            transforms.append(RandomRotation(float(values[0]), image_shape=image_shape))
        else:
            options = {k: float(v) for k, v in (item.split("=") for item in values)}
            transforms.append(
                RandomAffine(
                    options["degrees"],
                    options["shift"],
                    options["scale"],
                    options["shear"],
                    image_shape=image_shape,
                )
            )
    return transforms[0] if len(transforms) == 1 else Compose(transforms)
