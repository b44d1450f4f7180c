"""download_file against a local HTTP server: success, every failure mode, no leftovers."""

from __future__ import annotations

import gzip
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import DataError, DownloadError, IDXFormatError, read_idx, write_idx
from nnscratch.data import download as download_module
from nnscratch.data.download import download_file, join_url

FAST = {"backoff": 0.0, "progress": False}
NAME = "labels-idx1-ubyte.gz"


@pytest.fixture
def served(local_server, tmp_path: Path):
    """The server, holding one small gzip IDX file (and a corrupt variant of it)."""
    write_idx(tmp_path / "src.gz", np.arange(200, dtype=np.uint8))
    good = (tmp_path / "src.gz").read_bytes()
    write_idx(tmp_path / "bad.gz", np.arange(200, dtype=np.uint8)[::-1].copy())
    local_server.files[NAME] = good
    local_server.corrupt_files[NAME] = (tmp_path / "bad.gz").read_bytes()
    return local_server


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_success_and_verified(served, tmp_path: Path, listing: Callable) -> None:
    cache = tmp_path / "cache" / "deep"  # created on demand
    dest = download_file(
        join_url(served.base("ok"), NAME), cache / NAME, sha256=sha(served.files[NAME]), **FAST
    )
    assert dest == cache / NAME
    assert dest.read_bytes() == served.files[NAME]
    assert listing(cache) == [NAME]
    np.testing.assert_array_equal(read_idx(dest), np.arange(200, dtype=np.uint8))


def test_checksum_mismatch_leaves_nothing(served, tmp_path: Path, listing: Callable) -> None:
    cache = tmp_path / "cache"
    url = join_url(served.base("corrupt"), NAME)
    with pytest.raises(DownloadError, match="SHA-256 of the download is") as info:
        download_file(url, cache / NAME, sha256=sha(served.files[NAME]), retries=2, **FAST)
    assert url in str(info.value)
    assert listing(cache) == []
    # Bad content is permanent: no point asking the same mirror again.
    assert served.requests[f"/corrupt/{NAME}"] == 1


def test_validator_rejection_leaves_nothing(served, tmp_path: Path, listing: Callable) -> None:
    cache = tmp_path / "cache"
    expected = hashlib.sha256(gzip.decompress(served.files[NAME])).hexdigest()
    seen: list[Path] = []

    def validate(path: Path) -> None:
        seen.append(path)
        assert path.parent == cache and path.name.startswith(f".{NAME}.")  # temp in cache dir
        assert not (cache / NAME).exists()  # verified BEFORE it is moved into place
        read_idx(path, expected_sha256=expected)

    with pytest.raises(DownloadError, match="content check failed"):
        download_file(
            join_url(served.base("corrupt"), NAME), cache / NAME, validate=validate, **FAST
        )
    assert listing(cache) == []
    download_file(join_url(served.base("ok"), NAME), cache / NAME, validate=validate, **FAST)
    assert listing(cache) == [NAME] and len(seen) == 2


def test_truncated_response_retried_then_fails(served, tmp_path: Path, listing: Callable) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="announced .* bytes but sent") as info:
        download_file(join_url(served.base("truncate"), NAME), cache / NAME, retries=2, **FAST)
    assert "attempt 3/3" in str(info.value)
    assert served.requests[f"/truncate/{NAME}"] == 3
    assert listing(cache) == []


def test_truncation_caught_even_without_content_length_check(
    served, tmp_path: Path, listing: Callable
) -> None:
    # A server that sends a *consistent* but short body is caught by content validation.
    served.files["short.gz"] = served.files[NAME][:-10]
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="gzip stream is truncated"):
        download_file(
            join_url(served.base("ok"), "short.gz"), cache / "short.gz", validate=read_idx, **FAST
        )
    assert listing(cache) == []


def test_hanging_server_times_out(served, tmp_path: Path, listing: Callable) -> None:
    cache = tmp_path / "cache"
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out|cannot connect"):
        download_file(
            join_url(served.base("hang"), NAME), cache / NAME, timeout=0.3, retries=1, **FAST
        )
    assert time.monotonic() - start < 5
    assert listing(cache) == []


def test_mirrors_in_order_with_fallback(served, tmp_path: Path, dead_url: str) -> None:
    urls = [
        join_url(dead_url, NAME),
        join_url(served.base("missing"), NAME),
        join_url(served.base("corrupt"), NAME),
        join_url(served.base("ok"), NAME),
    ]
    dest = download_file(urls, tmp_path / NAME, sha256=sha(served.files[NAME]), retries=1, **FAST)
    assert dest.read_bytes() == served.files[NAME]
    assert served.requests[f"/missing/{NAME}"] == 1  # 404 is not retried
    assert served.requests[f"/ok/{NAME}"] == 1


def test_transient_errors_retried_with_backoff(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(download_module.time, "sleep", sleeps.append)
    served.flaky_failures = 2
    dest = download_file(
        join_url(served.base("flaky"), NAME),
        tmp_path / NAME,
        retries=3,
        backoff=0.25,
        progress=False,
    )
    assert dest.read_bytes() == served.files[NAME]
    assert served.requests[f"/flaky/{NAME}"] == 3
    assert sleeps == [0.25, 0.5]


def test_all_mirrors_fail_message_lists_each(served, tmp_path: Path, dead_url: str) -> None:
    urls = [join_url(dead_url, NAME), join_url(served.base("missing"), NAME)]
    with pytest.raises(DownloadError) as info:
        download_file(urls, tmp_path / NAME, retries=0, **FAST)
    message = str(info.value)
    assert "every mirror failed" in message and NAME in message
    assert "cannot connect" in message and "HTTP 404" in message
    assert isinstance(info.value, OSError) and isinstance(info.value, DataError)


def test_existing_file_kept_when_download_fails(served, tmp_path: Path) -> None:
    dest = tmp_path / NAME
    dest.write_bytes(b"previous content")
    with pytest.raises(DownloadError):
        download_file(join_url(served.base("truncate"), NAME), dest, retries=0, **FAST)
    assert dest.read_bytes() == b"previous content"


def test_interrupt_removes_temp_file(served, tmp_path: Path, listing: Callable) -> None:
    def interrupt(path: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_file(join_url(served.base("ok"), NAME), tmp_path / "c" / NAME, validate=interrupt)
    assert listing(tmp_path / "c") == []


def test_progress_bar_path(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(download_module, "_progress_enabled", lambda progress: progress)
    download_file(join_url(served.base("ok"), NAME), tmp_path / NAME, progress=True)
    assert NAME in capsys.readouterr().err  # tqdm wrote its bar to stderr


def test_file_urls(tmp_path: Path) -> None:
    source = tmp_path / "mirror" / "f.bin"
    source.parent.mkdir()
    source.write_bytes(b"abc")
    out = download_file(source.as_uri(), tmp_path / "out" / "f.bin", sha256=sha(b"abc"))
    assert out.read_bytes() == b"abc"
    with pytest.raises(DownloadError, match="not found"):
        download_file((tmp_path / "none").as_uri(), tmp_path / "x", retries=3, **FAST)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"urls": []}, "at least one URL"),
        ({"urls": "ftp://example.invalid/x"}, "scheme"),
        ({"retries": -1}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"backoff": -1.0}, "backoff"),
    ],
)
def test_argument_validation(tmp_path: Path, kwargs: dict, message: str) -> None:
    options = {"urls": "http://127.0.0.1:9/x", "dest": tmp_path / "x", **kwargs}
    with pytest.raises(ValueError, match=message):
        download_file(**options)
    assert list(tmp_path.iterdir()) == []


def test_join_url() -> None:
    assert join_url("http://h/a", "f.gz") == "http://h/a/f.gz"
    assert join_url("http://h/a/", "f.gz") == "http://h/a/f.gz"


def test_validator_errors_are_data_errors() -> None:
    # The contract the loader relies on: format problems are DataError/ValueError.
    assert issubclass(IDXFormatError, DataError) and issubclass(IDXFormatError, ValueError)
