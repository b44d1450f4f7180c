"""The nnscratch model file: one ``.npz`` holding named arrays and a JSON metadata record.

Layout: a zip archive whose members are ``__metadata__.npy`` (the UTF-8 bytes of a JSON
record, as a 1-D uint8 array), ``weights/<layer>.<name>.npy`` (one per parameter or state
array of the network) and ``optimizer/<slot>.<name>.npy`` (the optimizer's state). Nothing
else may appear.

Safety: the archive is inspected before anything is decompressed. Every member's name is
checked against the layout; every member's declared uncompressed size, and every array's
shape and dtype (read from its ``.npy`` header alone), are checked against what the metadata's
architecture implies: a Dense layer from width n_in to n_out holds W (n_in x n_out) and b
(n_out), a BatchNorm layer of width n holds four vectors of n, a Conv2D layer of F filters of
kh x kw on C channels holds W (F x C x kh x kw) and b (F), and the optimizer holds at most
``OPTIMIZER_ARRAYS_PER_PARAMETER`` numbers per parameter. The total must also fit under a cap
(``max_bytes``, ``DEFAULT_MAX_BYTES`` unless given). So a small file that would expand to
gigabytes (an "archive bomb") is refused in milliseconds, naming the member at fault, and the
memory a load can take is bounded by what the file declares. Arrays are never unpickled and
the metadata is plain JSON, so opening a model file can never run code.

Integrity: the metadata carries a SHA-256 over every array's name, dtype, shape and bytes,
checked on load, so truncated, corrupted or foreign files are rejected with a clear error (the
zip's own CRC-32 of each member is checked too).

Durability: the file is written to a temporary name in the same folder (created with mode
0o666 less the user's umask, like any other file), flushed and fsync'ed, then renamed over the
target; a crash or kill at any moment leaves either the old file or the new one, never a
mixture.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import secrets
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
from numpy.lib import format as npy_format

from ..core._types import Array
from ..core.layers import LAYER_TYPES, layer_from_config

FORMAT_NAME = "nnscratch-model"
FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"
_METADATA_MEMBER = _METADATA_KEY + ".npy"

#: The largest total (uncompressed) size of a model file's arrays that ``read_archive`` accepts
#: unless told otherwise: far beyond any network this library trains on a CPU, yet a bound.
DEFAULT_MAX_BYTES = 4 * 2**30
#: The largest metadata record (JSON text) accepted; a long training history is a few MB.
MAX_METADATA_BYTES = 64 * 2**20
#: Optimizer state numbers allowed per network parameter (Adam keeps two: m and v).
OPTIMIZER_ARRAYS_PER_PARAMETER = 4
_MAX_MEMBERS = 10_000
_CHUNK = 16 * 2**20  # bytes read at a time, so no whole-member temporary copy is made

_ARRAY_NAME = re.compile(r"(weights|optimizer)/([0-9]{1,9})\.([A-Za-z_][A-Za-z0-9_]{0,63})")
_ERROR_NAME_CHARS = 80

#: What ``read_archive`` and ``inspect_archive`` read: a path, or an open binary file
#: (``io.BytesIO`` of an upload, say).
ModelSource = str | os.PathLike[str] | IO[bytes]

# Everything zipfile, zlib and numpy's header parser raise on damaged input.
_DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    struct.error,
    NotImplementedError,
    UnicodeDecodeError,
    OverflowError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    SyntaxError,
    tokenize.TokenError,  # from the .npy header parser, not a SyntaxError
    RecursionError,
    OSError,  # a seek to an offset a damaged directory gives (EINVAL)
)


class ModelFileError(ValueError):
    """A model file that cannot be used or written: missing, truncated, corrupted, foreign,
    too large, or too new."""


class ModelFileTooLargeError(ModelFileError):
    """A model file whose arrays would take more memory than the limit it is read under."""


@dataclass(frozen=True)
class ArchiveInfo:
    """What a model file declares, found without decompressing its arrays."""

    #: The JSON metadata record (architecture, optimizer, history, ...).
    metadata: dict[str, Any]
    #: Trainable and state numbers of the network the architecture describes.
    n_parameters: int
    #: Uncompressed size of every member together, in bytes.
    total_bytes: int


def _checksum(arrays: dict[str, Array]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        digest.update(arr.data if arr.size else b"")
    return digest.hexdigest()


def _shown(name: str) -> str:
    """A member name fit for a one-line message (quoted, bounded, control characters escaped)."""
    text = name if len(name) <= _ERROR_NAME_CHARS else name[:_ERROR_NAME_CHARS] + "..."
    return repr(text)


def source_name(source: ModelSource) -> str:
    """How messages name a model source: its path, an open file's name, or "the model file"."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else "the model file"


# -- writing ---------------------------------------------------------------------------------
def _create_temporary(folder: Path, stem: str) -> tuple[int, Path]:
    """A new file next to the target, opened for writing.

    ``os.open`` with mode 0o666 lets the kernel apply the umask, so the model ends up with the
    same permissions as any other file the user creates (``tempfile.mkstemp`` would force 0600).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        candidate = folder / f".{stem}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(candidate, flags, 0o666), candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder}")


#: ``np.savez``, typed by its plain signature: NumPy's stub matches the keyword arrays against
#: its own bool parameter ``allow_pickle``, which no member name here is (``_ARRAY_NAME`` and
#: the metadata record's ``_METADATA_KEY``).
_savez: Callable[..., None] = np.savez


def write_archive(
    path: str | os.PathLike[str], metadata: dict[str, Any], arrays: dict[str, Array]
) -> Path:
    """Atomically write ``arrays`` and JSON-serialisable ``metadata`` to ``path``.

    Array names must follow the layout (``weights/<i>.<name>`` or ``optimizer/<i>.<name>``).
    Raises ModelFileError (a ValueError) when ``path`` cannot take the file (it is a folder, or
    its folder cannot be written), with the target named and no temporary name.
    """
    path = Path(path)
    for name, arr in arrays.items():
        if not isinstance(name, str) or not _ARRAY_NAME.fullmatch(name):
            raise ValueError(
                f"array name {name!r} cannot be stored: expected weights/<i>.<name> or "
                "optimizer/<i>.<name>"
            )
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
            raise ValueError(f"array {name!r} cannot be stored: it must be a float ndarray")
    record = {
        **metadata,
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "checksum": _checksum(arrays),
    }
    try:
        text = json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model metadata is not plain JSON: {exc}") from None
    payload = dict(arrays)
    payload[_METADATA_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    if path.is_dir():
        raise ModelFileError(
            f"cannot save the model to {path}: it is a folder; give a file name such as "
            f"{path / 'model.npz'}"
        )
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = _create_temporary(folder, path.name)
    except OSError as exc:
        raise ModelFileError(
            f"cannot save the model to {path}: {exc.strerror or exc} (in folder {folder})"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            _savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise ModelFileError(
                f"cannot save the model to {path}: {exc.strerror or type(exc).__name__}"
            ) from None
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the data itself is already synced
    return path


# -- what an architecture implies -------------------------------------------------------------
def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelFileError(f"{what} must be a positive integer, got {value!r}")
    return value


def expected_weights(architecture: object) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The arrays (name -> (shape, dtype)) a network with ``architecture`` saves as weights.

    The per-sample shape flows through the layers from ``input_shape`` (images, [C, H, W]) or
    ``input_dim`` (rows of n features): Dense(units) holds ``i.W`` (n x units) and ``i.b``
    (units) and sets n = units; BatchNorm holds ``i.gamma``, ``i.beta``, ``i.running_mean``
    and ``i.running_var`` (one per feature or channel); Conv2D(F, kh x kw) on C channels holds
    ``i.W`` (F x C x kh x kw) and ``i.b`` (F, unless use_bias is false); Activation, Dropout,
    pooling, Flatten and Reshape hold nothing but may change the shape. Each layer's own
    ``compute_output_shape`` and ``weight_shapes`` answer, from its description alone, so this
    allocates nothing however large the numbers, and a description whose shapes do not fit
    together (a kernel larger than its input, a Dense layer after a convolution) is refused
    here.
    """
    if not isinstance(architecture, dict):
        raise ModelFileError("the architecture is not a JSON object")
    width = _positive_int(architecture.get("input_dim"), "input_dim")
    shape: tuple[int, ...] = (width,)
    if architecture.get("input_shape") is not None:
        dims = architecture["input_shape"]
        if not isinstance(dims, list) or not dims:
            raise ModelFileError(f"input_shape must be a list of positive integers, got {dims!r}")
        shape = tuple(_positive_int(d, "input_shape entry") for d in dims)
        if math.prod(shape) != width:
            raise ModelFileError(
                f"input_shape {dims} holds {math.prod(shape)} values per sample but input_dim is "
                f"{width}"
            )
    dtype_name = architecture.get("dtype", "float32")
    if dtype_name not in ("float32", "float64"):
        raise ModelFileError(f"the network dtype must be float32 or float64, got {dtype_name!r}")
    dtype = np.dtype(dtype_name)
    layers = architecture.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelFileError("the architecture has no list of layers")
    shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for i, config in enumerate(layers):
        kind = config.get("type") if isinstance(config, dict) else None
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            raise ModelFileError(
                f"layer {i} has unknown type {kind!r}; expected one of {sorted(LAYER_TYPES)}"
            )
        if kind == "Dense":  # the 0.1.0 message for a bad width, kept
            _positive_int(config.get("units"), f"layer {i} units")
        try:
            layer = layer_from_config(config)
            output = layer.compute_output_shape(shape)
            arrays = layer.weight_shapes(shape)
            shape = output
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"layer {i} ({kind}) is invalid: {text}") from None
        for name, dims in arrays.items():
            shapes[f"{i}.{name}"] = (tuple(dims), dtype)
    return shapes


# -- reading ---------------------------------------------------------------------------------
@contextmanager
def _opened(source: ModelSource, label: str) -> Iterator[zipfile.ZipFile]:
    """The source as a zip archive, or a ModelFileError saying what it is instead."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ModelFileError(f"model file not found: {path}")
        if path.is_dir():
            raise ModelFileError(f"{path} is a folder, not a model file")
        try:
            handle: IO[bytes] = open(path, "rb")
        except OSError as exc:
            raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        owned = True
    else:
        handle, owned = source, False
    try:
        try:
            position = handle.tell()
            start = handle.read(8)
            handle.seek(position)
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read {label}: {exc}") from None
        if not start.startswith(b"PK"):
            raise ModelFileError(f"{label} is not an nnscratch model file: {_what_it_is(start)}")
        try:
            _check_directory(handle, label)
            archive = zipfile.ZipFile(handle)
        except ModelFileError:
            raise
        except _DAMAGE as exc:
            raise ModelFileError(
                f"{label} is not a readable model file (truncated or corrupted?): {_one_line(exc)}"
            ) from None
        with archive:
            yield archive
    finally:
        if owned:
            handle.close()


def _check_directory(handle: IO[bytes], label: str) -> None:
    """Refuse a zip whose central directory lists more than ``_MAX_MEMBERS`` entries, read
    from its end record, before ``zipfile`` turns every entry into an object (a 32 MB file
    can list 600,000 entries, which take 250 MB and seconds to parse)."""
    position = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    tail_start = max(position, end - (22 + 65_535))  # the end record, then a comment
    handle.seek(tail_start)
    tail = handle.read(end - tail_start)
    handle.seek(position)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not found: zipfile will say the file is not a zip
    entries, size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if (entries == 0xFFFF or size == 0xFFFFFFFF) and at >= 20:
        locator = tail[at - 20 : at]  # zip64: the real numbers are in the zip64 end record
        if locator[:4] == b"PK\x06\x07":
            (offset,) = struct.unpack("<Q", locator[8:16])
            handle.seek(position + offset)
            record = handle.read(56)
            handle.seek(position)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                entries, size = struct.unpack("<QQ", record[32:48])
    if entries > _MAX_MEMBERS or size > _MAX_MEMBERS * 1024:
        raise ModelFileTooLargeError(
            f"{label} lists {entries:,} members in a {size:,}-byte directory; a model file has "
            f"at most {_MAX_MEMBERS:,}"
        )


def _what_it_is(start: bytes) -> str:
    if not start:
        return "the file is empty"
    if start.startswith(b"\x93NUMPY"):
        return "it is a single NumPy array (.npy), not a zip archive of arrays (.npz)"
    if start.startswith(b"\x80"):
        return "it is a Python pickle, which is never loaded"
    try:
        start.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not a zip archive"
    return "it is text, not a zip archive"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:200] + "..."


def _read_header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str
) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, data bytes) from a member's .npy header alone."""
    try:
        with archive.open(info) as handle:
            version = npy_format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            header_bytes = handle.tell()
    except ModelFileError:
        raise
    except _DAMAGE as exc:
        raise ModelFileError(
            f"{label}: member {_shown(info.filename)} is not a valid array: {_one_line(exc)}"
        ) from None
    if dtype.hasobject or dtype.kind not in "fu" or dtype.shape or dtype.names:
        raise ModelFileError(
            f"{label}: member {_shown(info.filename)} holds {dtype} values; a model file holds "
            "only float arrays and a uint8 metadata record"
        )
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise ModelFileError(f"{label}: member {_shown(info.filename)} has shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_bytes + nbytes != info.file_size:
        raise ModelFileError(
            f"{label}: member {_shown(info.filename)} declares {info.file_size:,} bytes but its "
            f"header describes {header_bytes + nbytes:,} (shape {shape}, {dtype})"
        )
    return tuple(shape), bool(fortran), dtype, header_bytes


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Array:
    """Read one member into an array of exactly its declared size (the zip's CRC-32 is
    checked on the way: zipfile verifies it when the member's last byte is read)."""
    shape, fortran, dtype, header_bytes = _read_header(archive, info, label)
    out = np.empty(math.prod(shape), dtype=dtype)
    view = out.data.cast("B")
    try:
        with archive.open(info) as member:
            # a ZipExtFile, an io.BufferedIOBase with readinto; typeshed says only IO[bytes]
            handle = cast(io.BufferedIOBase, member)
            handle.read(header_bytes)
            filled = 0
            while filled < len(view):
                got = handle.readinto(view[filled : filled + _CHUNK])
                if not got:
                    raise EOFError("the array data ends early")
                filled += got
            if handle.read(1):
                raise ValueError("the member holds more data than its header describes")
    except _DAMAGE as exc:
        raise ModelFileError(
            f"{label}: member {_shown(info.filename)} is damaged (truncated or corrupted?): "
            f"{_one_line(exc)}"
        ) from None
    return out.reshape(shape, order="F" if fortran else "C")


def _read_metadata(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> dict[str, Any]:
    shape, _, dtype, _ = _read_header(archive, info, label)
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(f"{label}: the metadata record is not a byte string")
    raw = _read_array(archive, info, label).tobytes()
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(
            f"{label}: the metadata record is corrupted ({_one_line(exc)})"
        ) from None
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{label}: malformed metadata (not a JSON object)")
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{label} is not an nnscratch model file (format is {metadata.get('format')!r})"
        )
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version:
        raise ModelFileError(f"{label}: malformed metadata (format version {version!r})")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{label} has model format version {version!r}; this nnscratch reads versions 1 to "
            f"{FORMAT_VERSION} (upgrade nnscratch to open newer files)"
        )
    return metadata


def _check_members(
    archive: zipfile.ZipFile, label: str, max_bytes: int
) -> tuple[zipfile.ZipInfo, dict[str, zipfile.ZipInfo]]:
    """The metadata member and the array members by name, after checking names, sizes,
    duplicates, encryption and compression methods from the central directory alone."""
    members = archive.infolist()
    if len(members) > _MAX_MEMBERS:
        raise ModelFileTooLargeError(
            f"{label} has {len(members):,} members; a model file has a few"
        )
    if not any(info.filename == _METADATA_MEMBER for info in members):
        raise ModelFileError(
            f"{label} is not an nnscratch model file (no metadata record; found "
            f"{', '.join(_shown(m.filename) for m in members[:5]) or 'no members'})"
        )
    meta: zipfile.ZipInfo | None = None
    arrays: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in members:
        name = info.filename
        key = name[:-4] if name.endswith(".npy") else None
        if name == _METADATA_MEMBER:
            if meta is not None:
                raise ModelFileError(f"{label} holds the member {_shown(name)} twice")
            meta = info
        elif key is not None and _ARRAY_NAME.fullmatch(key):
            if key in arrays:
                raise ModelFileError(f"{label} holds the member {_shown(name)} twice")
            arrays[key] = info
        else:
            raise ModelFileError(
                f"{label} holds an unexpected member {_shown(name)}; a model file holds only "
                "__metadata__.npy, weights/<i>.<name>.npy and optimizer/<i>.<name>.npy"
            )
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{label}: member {_shown(name)} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(
                f"{label}: member {_shown(name)} uses compression method {info.compress_type}; "
                "a model file is stored or deflated"
            )
        if info.file_size > max_bytes:
            raise ModelFileTooLargeError(
                f"{label}: member {_shown(name)} expands to {info.file_size:,} bytes, more than "
                f"the limit of {max_bytes:,} bytes for the whole model"
            )
        total += info.file_size
    assert meta is not None  # checked above
    if total > max_bytes:
        raise ModelFileTooLargeError(
            f"{label} expands to {total:,} bytes, more than the limit of {max_bytes:,} bytes"
        )
    # decoded JSON takes about ten times its text in memory: a sixteenth of the limit keeps
    # the metadata's share within it
    meta_limit = min(MAX_METADATA_BYTES, max(max_bytes // 16, 65_536))
    if meta.file_size > meta_limit:
        raise ModelFileTooLargeError(
            f"{label}: member {_shown(meta.filename)} expands to {meta.file_size:,} bytes; a "
            f"metadata record may take at most {meta_limit:,} under this limit"
        )
    return meta, arrays


def _check_arrays(
    archive: zipfile.ZipFile,
    label: str,
    metadata: dict[str, Any],
    arrays: dict[str, zipfile.ZipInfo],
    max_bytes: int,
) -> int:
    """Check every array member's header against the architecture; return the parameter
    count. Weights must have exactly the shapes the architecture implies (and its dtype's
    width); optimizer state is float, in slots 0, 1, ... and at most
    ``OPTIMIZER_ARRAYS_PER_PARAMETER`` numbers per parameter in all."""
    try:
        expected = expected_weights(metadata.get("architecture"))
    except ModelFileError as exc:
        raise ModelFileError(f"{label}: the model description is invalid ({exc})") from None
    n_parameters = sum(math.prod(shape) for shape, _ in expected.values())
    itemsize = next(iter(expected.values()))[1].itemsize if expected else 4
    if n_parameters * itemsize > max_bytes:
        raise ModelFileTooLargeError(
            f"{label} describes a network of {n_parameters:,} parameters "
            f"({n_parameters * itemsize:,} bytes), more than the limit of {max_bytes:,} bytes"
        )
    weights = {k.split("/", 1)[1]: info for k, info in arrays.items() if k.startswith("weights/")}
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        name = f"weights/{(extra or missing)[0]}.npy"
        what = "unexpected member" if extra else "no member"
        raise ModelFileError(
            f"{label}: {what} {_shown(name)} for the network its metadata describes "
            f"(missing {missing[:5]}, unexpected {extra[:5]})"
        )
    for key, info in weights.items():
        shape, _, dtype, _ = _read_header(archive, info, label)
        want_shape, want_dtype = expected[key]
        if shape != want_shape or dtype.kind != "f" or dtype.itemsize != want_dtype.itemsize:
            raise ModelFileError(
                f"{label}: member {_shown(info.filename)} holds a {dtype} array of shape "
                f"{shape}; the architecture implies {want_dtype} of shape {want_shape}"
            )
    slots: set[int] = set()
    state_numbers = 0
    for key, info in arrays.items():
        if not key.startswith("optimizer/"):
            continue
        shape, _, dtype, _ = _read_header(archive, info, label)
        if dtype.kind != "f" or dtype.itemsize not in (4, 8):
            raise ModelFileError(
                f"{label}: member {_shown(info.filename)} holds {dtype} values, not float32 "
                "or float64"
            )
        state_numbers += math.prod(shape)
        if state_numbers > OPTIMIZER_ARRAYS_PER_PARAMETER * n_parameters:
            raise ModelFileError(
                f"{label}: member {_shown(info.filename)} takes the optimizer state past "
                f"{OPTIMIZER_ARRAYS_PER_PARAMETER} numbers per parameter of the network"
            )
        slots.add(int(key.split("/", 1)[1].split(".", 1)[0]))
    if slots and slots != set(range(len(slots))):
        raise ModelFileError(
            f"{label}: the optimizer state has slots {sorted(slots)[:8]}; expected 0, 1, ..."
        )
    return n_parameters


def _inspect(
    archive: zipfile.ZipFile, label: str, max_bytes: int | None
) -> tuple[ArchiveInfo, zipfile.ZipInfo, dict[str, zipfile.ZipInfo]]:
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    meta_info, arrays = _check_members(archive, label, limit)
    metadata = _read_metadata(archive, meta_info, label)
    n_parameters = _check_arrays(archive, label, metadata, arrays, limit)
    # every member's size now matches its header, and their sum is within the limit
    total = meta_info.file_size + sum(info.file_size for info in arrays.values())
    return ArchiveInfo(metadata, n_parameters, total), meta_info, arrays


def inspect_archive(source: ModelSource, *, max_bytes: int | None = None) -> ArchiveInfo:
    """What a model file declares (metadata, parameter count, size), checked without
    decompressing any array: names, sizes, headers and the architecture, as ``read_archive``
    does first. Raises ModelFileError when the file would not load or exceeds ``max_bytes``
    (``DEFAULT_MAX_BYTES`` if None)."""
    label = source_name(source)
    with _opened(source, label) as archive:
        return _inspect(archive, label, max_bytes)[0]


def read_archive(
    source: ModelSource, *, max_bytes: int | None = None
) -> tuple[dict[str, Any], dict[str, Array]]:
    """Read and verify a model file; return (metadata, arrays).

    ``source`` is a path or an open binary file. Before any array is decompressed, the
    archive's members are checked against the layout and the architecture (see the module
    docstring) and their total uncompressed size against ``max_bytes`` (``DEFAULT_MAX_BYTES``
    if None); the arrays are then read and their checksum verified. Every failure is a
    ModelFileError (a ValueError) of one line.
    """
    label = source_name(source)
    with _opened(source, label) as archive:
        info, _, members = _inspect(archive, label, max_bytes)
        arrays = {key: _read_array(archive, member, label) for key, member in members.items()}
    if info.metadata.get("checksum") != _checksum(arrays):
        raise ModelFileError(f"{label} is corrupted: its arrays do not match the stored checksum")
    return info.metadata, arrays
