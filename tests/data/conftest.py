"""Fixtures for the dataset-layer tests: real MNIST location, isolation, a local HTTP server."""

from __future__ import annotations

import gzip
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import idx_sha256, load_mnist, write_idx
from nnscratch.data.mnist import FILES

REPO = Path(__file__).resolve().parents[2]
MIRROR_ENVS = ("NNSCRATCH_MNIST_MIRROR", "NNSCRATCH_FASHION_MNIST_MIRROR")


# ----------------------------------------------------------------------------- real MNIST


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder holding the full MNIST files.

    Found by ``tests.conftest.mnist_dir``: through NNSCRATCH_DATA (the folder itself or
    its mnist/ subfolder), else <repo>/../shared/data/mnist. Missing data skips the test --
    except under CI=true, where it fails: CI must never pass by silently skipping the
    real-data checks.
    """
    from tests.conftest import mnist_dir as find_mnist_dir

    folder = find_mnist_dir()
    if folder is not None:
        return folder
    env = os.environ.get("NNSCRATCH_DATA", "")
    message = (
        f"full MNIST not found via NNSCRATCH_DATA={env!r} nor in "
        f"{REPO.parent / 'shared' / 'data' / 'mnist'}; set NNSCRATCH_DATA to a folder holding "
        f"{', '.join(n + '.gz' for n in FILES)}"
    )
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist_full(mnist_dir: Path):
    """Full MNIST loaded once (uint8, flattened, verified) for the whole session."""
    return load_mnist(mnist_dir, download=False, verify=True, progress=False)


# ----------------------------------------------------------------------------- isolation


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens, so connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No NNSCRATCH_DATA, a private empty cache, and mirrors that refuse connections.

    Returns the cache root (``$XDG_CACHE_HOME/nnscratch``). Nothing a test does can reach
    the network or the developer's real cache.
    """
    monkeypatch.delenv("NNSCRATCH_DATA", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    dead = closed_port_url()
    for name in MIRROR_ENVS:
        monkeypatch.setenv(name, dead)
    return tmp_path / "xdg-cache" / "nnscratch"


# ----------------------------------------------------------------------------- synthetic data


@dataclass
class FakeMNIST:
    """Tiny MNIST-shaped IDX files (gzip bytes) with their decompressed checksums."""

    files: dict[str, bytes]
    checksums: dict[str, str]
    arrays: dict[str, np.ndarray]

    def write_to(self, folder: Path, *, gzip_files: bool = True, dotted: bool = False) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, payload in self.files.items():
            stem = name.replace("-idx", ".idx") if dotted else name
            if gzip_files:
                (folder / (stem + ".gz")).write_bytes(payload)
            else:
                (folder / stem).write_bytes(gzip.decompress(payload))
        return folder


def make_fake_mnist(tmp: Path, *, n_train: int = 30, n_test: int = 20, seed: int = 0) -> FakeMNIST:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    tmp.mkdir(parents=True, exist_ok=True)
    files, checksums = {}, {}
    for name, array in arrays.items():
        path = tmp / f"{name}.gz"
        write_idx(path, array)
        files[name] = path.read_bytes()
        checksums[name] = idx_sha256(path)
    return FakeMNIST(files=files, checksums=checksums, arrays=arrays)


@pytest.fixture(scope="session")
def fake_mnist(tmp_path_factory: pytest.TempPathFactory) -> FakeMNIST:
    return make_fake_mnist(tmp_path_factory.mktemp("fake-mnist"))


# ----------------------------------------------------------------------------- HTTP server


@dataclass
class LocalServer:
    """A throwaway HTTP server on 127.0.0.1 with scripted misbehaviour.

    URLs look like ``{url}/<mode>/<file>``; ``files`` maps file names to bodies. Modes:
    ``ok``; ``missing`` (404); ``truncate`` (announces more bytes than it sends, then
    closes); ``hang`` (accepts the request and never answers); ``flaky`` (503 for the
    first ``flaky_failures`` requests of each path, then ok); ``corrupt`` (serves
    ``corrupt_files[name]`` instead).
    """

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    corrupt_files: dict[str, bytes] = field(default_factory=dict)
    flaky_failures: int = 2
    requests: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)

    def base(self, mode: str) -> str:
        return f"{self.url}/{mode}/"


def _make_handler(state: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - API name
            pass  # keep test output clean

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            state.requests[self.path] += 1
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[1] not in state.files:
                self.send_error(404)
                return
            mode, name = parts
            body = state.files[name]
            if mode == "missing":
                self.send_error(404)
            elif mode == "hang":
                state.release.wait(timeout=30)
            elif mode == "flaky" and state.requests[self.path] <= state.flaky_failures:
                self.send_error(503)
            elif mode == "truncate":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + 1000))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            elif mode in ("ok", "flaky", "corrupt"):
                if mode == "corrupt":
                    body = state.corrupt_files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

    return Handler


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    state = LocalServer(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _listing(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def listing() -> Callable[[Path], list[str]]:
    """All entries under a folder (hidden ones too), relative and sorted."""
    return _listing


@pytest.fixture
def fake_mnist_factory(tmp_path: Path) -> Callable[..., FakeMNIST]:
    """Build fresh fake MNIST files: factory(n_train=..., n_test=..., seed=...)."""
    counter = iter(range(1_000_000))

    def build(**options: int) -> FakeMNIST:
        return make_fake_mnist(tmp_path / f"fake-{next(counter)}", **options)

    return build


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 with nothing listening."""
    return closed_port_url()
