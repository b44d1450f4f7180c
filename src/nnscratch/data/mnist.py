"""MNIST and Fashion-MNIST: finding, downloading, verifying and loading them.

Where the files are looked for, in order (the first folder holding all four files wins):

1. the ``path`` argument, if given -- then *only* there (missing files are downloaded into
   it), because an explicit folder that silently loads data from elsewhere is a trap; a
   ``path`` that does not exist is refused rather than created (it is most likely a typo),
   unless ``download=True`` asks for the download into it explicitly;
2. each folder in the ``NNSCRATCH_DATA`` environment variable (several may be given,
   separated by ``os.pathsep``); each may hold the files directly or in a ``mnist/`` or
   ``fashion-mnist/`` subfolder, which is checked first. The two datasets use the same
   file names, so a folder holding the *other* dataset's files directly is recognised (by
   the checksum of its small test-label file) and skipped;
3. the user cache, ``$XDG_CACHE_HOME/nnscratch/<kind>`` (default
   ``~/.cache/nnscratch/<kind>``), or ``<cache_dir>/<kind>`` when ``cache_dir`` is given;
4. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist``, where Debian's
   ``dataset-fashion-mnist`` package installs it;
5. finally the files are downloaded from public mirrors into the cache (or ``path``).

Files may be gzip-compressed or not, named ``train-images-idx3-ubyte[.gz]`` or
``train-images.idx3-ubyte[.gz]`` (as some unpackers write them).

Verification: every file is checked against the SHA-256 of its *decompressed* content,
so that recompressed copies (e.g. Debian's, or a re-gzipped mirror) verify as well as the
originals. The digest is computed while the file is decompressed, so it costs about 0.1 s
for the whole of MNIST and needs no cache that could go stale. A download is verified
before it is moved into the cache, and always (``verify=False`` only skips the check of
files that are already on disk). The Fashion-MNIST digests were computed from the files
shipped by Debian's ``dataset-fashion-mnist`` package (a snapshot of Zalando's repository);
every file is in addition checked for the expected structure (28x28 uint8 images, labels
0-9, as many labels as images).
"""

from __future__ import annotations

import importlib.resources
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._validate import check_count, float_dtype
from .dataset import Dataset
from .download import DEFAULT_RETRIES, DEFAULT_TIMEOUT, download_file, join_url
from .errors import ChecksumError, DatasetNotFoundError, DownloadError, InvalidDatasetError
from .idx import idx_sha256, read_idx
from .preprocessing import one_hot as _one_hot

__all__ = [
    "FASHION_MNIST_SHA256",
    "KINDS",
    "MNIST_SHA256",
    "data_cache_dir",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_sample",
]

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

#: SHA-256 of the decompressed MNIST files (LeCun, Cortes and Burges).
MNIST_SHA256: Mapping[str, str] = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: SHA-256 of the decompressed Fashion-MNIST files (Zalando Research).
FASHION_MNIST_SHA256: Mapping[str, str] = {
    TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Kind:
    """What distinguishes MNIST from Fashion-MNIST for the loader."""

    name: str
    title: str
    checksums: Mapping[str, str]
    mirrors: tuple[str, ...]
    mirror_env: str
    class_names: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()


KINDS: Mapping[str, Kind] = {
    "mnist": Kind(
        name="mnist",
        title="MNIST",
        checksums=MNIST_SHA256,
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        mirror_env="NNSCRATCH_MNIST_MIRROR",
        class_names=tuple(str(digit) for digit in range(10)),
    ),
    "fashion-mnist": Kind(
        name="fashion-mnist",
        title="Fashion-MNIST",
        checksums=FASHION_MNIST_SHA256,
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        mirror_env="NNSCRATCH_FASHION_MNIST_MIRROR",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}

DATA_ENV = "NNSCRATCH_DATA"
SAMPLE_FILE = "mnist-sample.npz"


def data_cache_dir() -> Path:
    """The folder downloads go to: ``$XDG_CACHE_HOME/nnscratch`` or ``~/.cache/nnscratch``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "nnscratch"


def _kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown kind {kind!r}; expected one of {', '.join(repr(k) for k in KINDS)}"
        ) from None


def _variants(base: str) -> tuple[str, ...]:
    dotted = base.replace("-idx", ".idx")
    return (base + ".gz", base, dotted + ".gz", dotted)


def _files_in(folder: Path) -> dict[str, Path]:
    """Map each of the four file names to the file that provides it in ``folder``."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for base in FILES:
        for candidate in _variants(base):
            if (folder / candidate).is_file():
                found[base] = folder / candidate
                break
    return found


def _candidates(kind: Kind, cache_root: Path) -> list[tuple[Path, str]]:
    folders: list[tuple[Path, str]] = []
    for entry in os.environ.get(DATA_ENV, "").split(os.pathsep):
        if entry.strip():
            root = Path(entry.strip()).expanduser()
            folders += [(root / kind.name, DATA_ENV), (root, f"{DATA_ENV}, direct")]
    folders.append((cache_root / kind.name, "cache"))
    folders += [(Path(folder), "system package") for folder in kind.system_dirs]
    return folders


def _other_kind(files: Mapping[str, Path], kind: Kind) -> Kind | None:
    """Identify a folder holding another kind's files (the names are the same for both).

    Only used for folders that hold the files directly in a shared search path, where
    MNIST and Fashion-MNIST cannot be told apart by name; hashing the 10 kB test labels
    settles it cheaply. Unreadable files are left for the real load to report.
    """
    try:
        digest = idx_sha256(files[TEST_LABELS])
    except (OSError, ValueError):
        return None
    for other in KINDS.values():
        if other is not kind and other.checksums.get(TEST_LABELS) == digest:
            return other
    return None


def _mirror_list(kind: Kind, mirrors: str | Sequence[str] | None) -> list[str]:
    if mirrors is None:
        configured = os.environ.get(kind.mirror_env, "").strip()
        if not configured:
            return list(kind.mirrors)
        mirrors = configured
    if isinstance(mirrors, str):
        mirrors = [m for m in re.split(r"[\s,]+", mirrors) if m]
    result = list(mirrors)
    if not result:
        raise ValueError(f"no mirror URLs given for {kind.title}")
    return result


def _not_found(kind: Kind, searched: list[tuple[Path, str]], reason: str) -> DatasetNotFoundError:
    lines = []
    closest: tuple[int, Path, dict[str, Path]] | None = None
    for folder, why in searched:
        present = _files_in(folder)
        state = (
            f"has only {', '.join(sorted(present))}"
            if present
            else ("no dataset files" if folder.is_dir() else "does not exist")
        )
        lines.append(f"  {folder} ({why}): {state}")
        if present and (closest is None or len(present) > closest[0]):
            closest = (len(present), folder, present)
    # The first line is what the command line shows: name the missing files and where.
    if closest is not None:
        missing = ", ".join(f"{base}(.gz)" for base in FILES if base not in closest[2])
        where = f"{missing} not found in {closest[1]}"
    elif searched[0][1] == "path argument":  # [path/<kind>, path]: name the folder given
        where = f"{searched[-1][0]} does not exist or holds none of its files"
    elif len(searched) == 1:
        where = f"{searched[0][0]} does not exist or holds none of its files"
    else:
        where = f"none of the {len(searched)} folders searched holds any of its files"
    return DatasetNotFoundError(
        f"{kind.title} was not found locally ({where}) and {reason}. Looked in:\n"
        + "\n".join(lines)
        + f"\nNeeded files: {', '.join(b + '[.gz]' for b in FILES)}. Pass path=..., set "
        f"{DATA_ENV} to a folder holding them (or a '{kind.name}/' subfolder of them), or "
        "allow downloading; for offline work nnscratch.data.load_mnist_sample() loads the "
        "small MNIST subset bundled with the package."
    )


def _download_summary(
    kind: Kind, base: str, target: Path, exc: DownloadError, elsewhere: int
) -> str:
    """One line: which file is missing, where it was looked for, why downloading failed."""
    mirrors = list(dict.fromkeys(url for url, _ in exc.failures))
    reasons = "; ".join(dict.fromkeys(reason for _, reason in exc.failures)) or str(exc)
    also = f" (nor in the {elsewhere} other folder(s) searched)" if elsewhere > 0 else ""
    return (
        f"{kind.title} file {base}(.gz) not found in {target}{also}; downloading it failed "
        f"from {len(mirrors)} mirror(s) ({reasons})"
    )


def _check_array(path: Path, base: str, array: np.ndarray, title: str) -> None:
    """Check that a well-formed IDX file holds what this dataset file must hold."""
    if "images" in base:
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
            raise InvalidDatasetError(
                f"{path}: expected {title} images as uint8 of shape (n, 28, 28), got "
                f"{array.dtype} of shape {array.shape}"
            )
    else:
        if array.dtype != np.uint8 or array.ndim != 1:
            raise InvalidDatasetError(
                f"{path}: expected {title} labels as uint8 of shape (n,), got {array.dtype} "
                f"of shape {array.shape}"
            )
        if array.size and int(array.max()) >= NUM_CLASSES:
            raise InvalidDatasetError(
                f"{path}: labels must be 0-{NUM_CLASSES - 1}, found {int(array.max())}"
            )


def _checksum_message(path: Path, base: str, kind: Kind, expected: str, actual: str | None) -> str:
    message = (
        f"{path}: not the official {kind.title} {base} file: the SHA-256 of its "
        f"decompressed content is {actual}, expected {expected}."
    )
    for other in KINDS.values():
        if other is not kind and other.checksums.get(base) == actual:
            return (
                message + f" It is the {other.title} file of the same name: {kind.title} and "
                f"{other.title} use identical file names, so keep them in separate folders "
                f"(e.g. <root>/{kind.name}/ and <root>/{other.name}/) and point "
                f"{DATA_ENV} or path= at the right one."
            )
    return message + (
        " The file is corrupt or was modified: delete it (a cached copy is downloaded "
        "again), or pass verify=False to load it anyway."
    )


def _read_dataset_file(path: Path, base: str, kind: Kind, expected: str | None) -> np.ndarray:
    try:
        array = read_idx(path, expected_sha256=expected)
    except ChecksumError as exc:
        raise ChecksumError(
            _checksum_message(path, base, kind, exc.expected or "", exc.actual),
            expected=exc.expected,
            actual=exc.actual,
        ) from None
    _check_array(path, base, array, kind.title)
    return array


def _check_split(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.shape[0] != labels.shape[0]:
        raise InvalidDatasetError(
            f"{where}: {images.shape[0]} images but {labels.shape[0]} labels; the image and "
            "label files do not belong together"
        )


def _finish(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    normalize: bool,
    flatten: bool,
    one_hot: bool,
    dtype: npt.DTypeLike,
    validation_size: int,
    name: str,
    source: str,
    class_names: tuple[str, ...],
) -> Dataset:
    """Apply the common output options to uint8 images and integer labels."""
    float_type = float_dtype(dtype)
    n_val = check_count(validation_size, "validation_size", minimum=0)
    if n_val >= x_train.shape[0]:
        raise ValueError(
            f"validation_size must be smaller than the {x_train.shape[0]} training samples, "
            f"got {n_val}"
        )

    def images(x: np.ndarray) -> np.ndarray:
        if flatten:
            x = x.reshape(x.shape[0], -1)
        if normalize:
            scaled = x.astype(float_type)
            scaled /= float_type.type(255)
            return scaled
        return x

    def labels(y: np.ndarray) -> np.ndarray:
        as_int = y.astype(np.int64)
        return _one_hot(as_int, NUM_CLASSES, dtype=float_type) if one_hot else as_int

    xtr, ytr, xte, yte = images(x_train), labels(y_train), images(x_test), labels(y_test)
    cut = xtr.shape[0] - n_val
    return Dataset(
        x_train=xtr[:cut],
        y_train=ytr[:cut],
        x_val=xtr[cut:],
        y_val=ytr[cut:],
        x_test=xte,
        y_test=yte,
        name=name,
        source=source,
        class_names=class_names,
    )


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    kind: str = "mnist",
    normalize: bool = False,
    flatten: bool = True,
    one_hot: bool = False,
    dtype: npt.DTypeLike = np.float32,
    validation_size: int = 0,
    verify: bool = True,
    download: bool | None = None,
    progress: bool = True,
    mirrors: str | Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Dataset:
    """Load MNIST (or Fashion-MNIST with ``kind="fashion-mnist"``) as a :class:`Dataset`.

    Output options:

    * ``normalize=False`` (default): images stay uint8 in 0-255 -- 55 MB for all of MNIST
      instead of 220 MB as float32. ``normalize=True`` scales them to [0, 1] as ``dtype``
      (float32 by default; float64 for gradient checking).
    * ``flatten=True``: images are ``(n, 784)``; ``False`` keeps ``(n, 28, 28)``.
    * Labels are int64 class indices (safe for indexing and arithmetic, unlike uint8,
      which wraps around), or one-hot rows of ``dtype`` with ``one_hot=True``.
    * ``validation_size``: the *last* that many training samples become the validation set
      (``validation_size=10000`` gives Nielsen's 50,000 / 10,000 split). The split is a
      view of the training data, not a copy.

    Finding and checking the data (see the module documentation for the full order):
    ``path`` names the folder to use exclusively; otherwise ``NNSCRATCH_DATA``, the
    cache (``cache_dir`` or the XDG cache) and system folders are searched before
    downloading from ``mirrors`` (default: the ``NNSCRATCH_MNIST_MIRROR`` /
    ``NNSCRATCH_FASHION_MNIST_MIRROR`` environment variable -- base URLs separated by
    spaces or commas -- or well-known public mirrors). ``download=False`` never touches
    the network; the default, ``download=None``, downloads missing files into the cache or
    into an existing ``path`` folder, but never creates a ``path`` that does not exist (a
    typo would otherwise silently grow a new folder tree); ``download=True`` may create it.
    ``checksums`` maps file names (without ``.gz``) to the SHA-256 of their
    decompressed content and replaces the built-in table (a file left out is only checked
    for structure). ``timeout`` (seconds per network operation) and ``retries`` (per
    mirror) tune downloads; ``progress`` shows a progress bar on a terminal.

    Raises:
        DatasetNotFoundError: the files are not available and could not be downloaded.
        ChecksumError: a local file is not the official one (the message says whether it
            is, for instance, the Fashion-MNIST file of the same name).
        IDXFormatError, InvalidDatasetError: a file is damaged or holds the wrong data.
        DownloadError: every mirror failed for a missing file.
        ValueError: invalid arguments.
    """
    info = _kind(kind)
    table = dict(info.checksums if checksums is None else checksums)
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else data_cache_dir()
    # Check arguments before any I/O, so a typo fails fast instead of after a download.
    float_dtype(dtype)
    check_count(validation_size, "validation_size", minimum=0)

    if path is not None:
        root = Path(path).expanduser()
        if root.exists() and not root.is_dir():
            raise ValueError(
                f"path must be a folder holding the {info.title} files (or a "
                f"'{info.name}/' subfolder of them), but {root} is a file"
            )
        if not root.exists() and download is None:
            raise DatasetNotFoundError(
                f"the folder {root} (path argument) does not exist, so no {info.title} files "
                "can be read from it, and nothing was created; check the spelling, or pass "
                f"download=True to download {info.title} into it (command line: nnscratch "
                f"datasets download {info.name} --data-dir {root})"
            )
        searched = [(root / info.name, "path argument"), (root, "path argument")]
        target = root
    else:
        searched = _candidates(info, cache_root)
        target = cache_root / info.name

    files: dict[str, Path] = {}
    source = ""
    for folder, why in searched:
        found = _files_in(folder)
        if len(found) == len(FILES) and not (
            why.endswith("direct") and _other_kind(found, info) is not None
        ):
            files, source = found, f"{folder} ({why})"
            break

    fresh: set[str] = set()
    if not files:
        if download is False:
            raise _not_found(info, searched, "downloading is disabled (download=False)")
        present = _files_in(target)
        urls_for = _mirror_list(info, mirrors)
        for base in FILES:
            if base in present:
                continue
            expected = table.get(base)

            def validate(tmp: Path, base: str = base, expected: str | None = expected) -> None:
                _read_dataset_file(tmp, base, info, expected)

            try:
                download_file(
                    [join_url(mirror, base + ".gz") for mirror in urls_for],
                    target / (base + ".gz"),
                    validate=validate,
                    timeout=timeout,
                    retries=retries,
                    progress=progress,
                )
            except DownloadError as exc:
                elsewhere = 0 if path is not None else sum(f != target for f, _ in searched)
                # One line (the command line prints messages whole); each attempt's URL and
                # failure stay in .failures and in the chained DownloadError.
                raise DownloadError(
                    _download_summary(info, base, target, exc, elsewhere)
                    + f". Offline? Put the files in a folder and pass path=... or set {DATA_ENV}; "
                    f"mirrors can be changed with mirrors=... or {info.mirror_env}; "
                    "nnscratch.data.load_mnist_sample() loads the small bundled subset",
                    failures=exc.failures,
                ) from exc
            fresh.add(base)
        files = _files_in(target)
        source = f"{target} (downloaded)"

    arrays = {}
    for base in FILES:
        # Fresh downloads were verified before they were moved into place.
        expected = table.get(base) if verify and base not in fresh else None
        arrays[base] = _read_dataset_file(files[base], base, info, expected)
    _check_split(arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS], f"{source} training set")
    _check_split(arrays[TEST_IMAGES], arrays[TEST_LABELS], f"{source} test set")
    return _finish(
        arrays[TRAIN_IMAGES],
        arrays[TRAIN_LABELS],
        arrays[TEST_IMAGES],
        arrays[TEST_LABELS],
        normalize=normalize,
        flatten=flatten,
        one_hot=one_hot,
        dtype=dtype,
        validation_size=validation_size,
        name=info.name,
        source=source,
        class_names=info.class_names,
    )


def load_fashion_mnist(path: str | os.PathLike[str] | None = None, **options: object) -> Dataset:
    """Load Fashion-MNIST; same options as :func:`load_mnist` (``kind`` is fixed)."""
    if "kind" in options:
        raise TypeError("load_fashion_mnist() does not take 'kind'; use load_mnist(kind=...)")
    return load_mnist(path, kind="fashion-mnist", **options)  # type: ignore[arg-type]


def load_mnist_sample(
    *,
    normalize: bool = False,
    flatten: bool = True,
    one_hot: bool = False,
    dtype: npt.DTypeLike = np.float32,
    validation_size: int = 0,
) -> Dataset:
    """Load the MNIST subset bundled with the package: works offline, in well under a second.

    5,000 training images (500 per digit) and 1,000 test images (100 per digit), chosen
    at random with a fixed seed from the official training and test sets and kept in their
    original relative order; see ``sample/README.md`` next to this module for provenance
    and licence (MNIST is CC BY-SA 3.0). Options behave as in :func:`load_mnist`;
    ``validation_size`` takes the last samples of the 5,000.
    """
    resource = importlib.resources.files(__package__).joinpath("sample").joinpath(SAMPLE_FILE)
    try:
        with resource.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            x_train, y_train = archive["x_train"], archive["y_train"]
            x_test, y_test = archive["x_test"], archive["y_test"]
    except FileNotFoundError:
        raise DatasetNotFoundError(
            f"the bundled MNIST sample is missing from this installation (expected "
            f"nnscratch/data/sample/{SAMPLE_FILE}); reinstall nnscratch"
        ) from None
    source = f"bundled sample ({SAMPLE_FILE})"
    _check_split(x_train, y_train, f"{source} training set")
    _check_split(x_test, y_test, f"{source} test set")
    return _finish(
        x_train,
        y_train,
        x_test,
        y_test,
        normalize=normalize,
        flatten=flatten,
        one_hot=one_hot,
        dtype=dtype,
        validation_size=validation_size,
        name="mnist-sample",
        source=source,
        class_names=KINDS["mnist"].class_names,
    )
