"""Downloading files from a list of mirrors, safely.

The guarantees that matter for a dataset cache are all about what is left on disk:

* the file is written to a temporary file in the destination directory, checked (SHA-256
  of the raw bytes and/or a caller-supplied validator, e.g. "is this a well-formed IDX file
  with the right decompressed checksum"), and only then renamed into place atomically;
* on any failure -- HTTP error, timeout, a server that closes the connection early, a bad
  checksum, Ctrl-C -- the temporary file is deleted, so a partial or corrupt file never
  lands in the cache where a later run would trust it.

Mirrors are tried in order. Transient failures (timeouts, connection errors, 5xx, short
bodies) are retried on the same mirror with exponential backoff; permanent ones (404, bad
content) move straight on to the next mirror, because asking again will not help.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from ._fileutil import commit_temp, temp_file_in
from .errors import DataError, DownloadError

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "download_file",
    "join_url",
]

logger = logging.getLogger(__name__)

#: Seconds to wait for each network operation (connect, each read) before giving up.
DEFAULT_TIMEOUT = 30.0
#: Extra attempts per mirror after the first one, for transient failures.
DEFAULT_RETRIES = 3
#: Delay before the first retry, in seconds; it doubles for each further retry.
DEFAULT_BACKOFF = 0.5

_CHUNK = 1 << 16
_SCHEMES = ("http", "https", "file")
_USER_AGENT = "nnscratch-data/1 (+https://pypi.org/project/nnscratch/)"


class _Transient(Exception):
    """A failure that may go away if the same request is repeated."""


class _Permanent(Exception):
    """A failure that repeating the request on the same mirror will not fix."""


def join_url(base: str, filename: str) -> str:
    """Join a mirror's base URL and a file name, whether or not the base ends in '/'."""
    return base.rstrip("/") + "/" + urllib.parse.quote(filename)


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"cannot download {url!r}: the URL scheme must be one of {', '.join(_SCHEMES)}, "
            f"got {scheme or 'none'!r}"
        )


def _progress_enabled(progress: bool) -> bool:
    if not progress:
        return False
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


@contextmanager
def _progress_bar(total: int | None, desc: str, enabled: bool) -> Iterator[Callable[[int], Any]]:
    """Yield an ``update(n)`` callable: a tqdm bar if wanted and available, else a no-op."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional at run time: downloads work without a bar
            enabled = False
    if not enabled:
        yield lambda n: None
        return
    with tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False
    ) as bar:
        yield bar.update


def _fetch(
    url: str,
    out: BinaryIO,
    *,
    timeout: float,
    progress: bool,
    desc: str,
    hasher: Any,
) -> int:
    """Stream ``url`` into ``out``; classify failures as transient or permanent."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            length_header = response.headers.get("Content-Length")
            try:
                expected = int(length_header) if length_header is not None else None
            except ValueError:
                expected = None
            received = 0
            with _progress_bar(expected, desc, _progress_enabled(progress)) as update:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    update(len(chunk))
    except urllib.error.HTTPError as exc:
        # 408 (timeout), 429 (rate limited) and 5xx are worth another try; other 4xx
        # responses (404 missing, 403 forbidden) will not change.
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from exc
        raise _Permanent(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, FileNotFoundError):
            raise _Permanent(f"not found ({reason})") from exc
        raise _Transient(f"cannot connect: {reason}") from exc
    except TimeoutError as exc:
        raise _Transient(f"timed out after {timeout:g} s without data") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise _Transient(f"connection failed: {type(exc).__name__}: {exc}") from exc
    # http.client does not complain when a server closes the connection before sending
    # everything it announced; without this check a truncated file would look complete.
    if expected is not None and received != expected:
        raise _Transient(
            f"incomplete response: the server announced {expected} bytes but sent {received}"
        )
    return received


def download_file(
    urls: str | Sequence[str],
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    validate: Callable[[Path], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    progress: bool = True,
) -> Path:
    """Download a file from the first mirror that delivers it intact, into ``dest``.

    ``urls`` are full URLs of the same file on different mirrors, tried in order.
    ``sha256`` is the expected digest of the downloaded bytes as served; ``validate`` is
    called with the path of the complete temporary file and must raise (any
    :class:`~nnscratch.data.errors.DataError` or ``ValueError``) if the content is not
    acceptable -- used for checks on the decompressed content, which a digest of the raw
    bytes cannot express when mirrors recompress files.

    ``timeout`` bounds each network operation, not the whole transfer, so a slow but
    steady connection is fine while a server that stops responding is abandoned.
    ``retries`` extra attempts are made per mirror for transient failures, sleeping
    ``backoff``, ``2 * backoff``, ... seconds in between. A tqdm progress bar is shown when
    ``progress`` is true, tqdm is installed and stderr is a terminal.

    Returns ``dest`` as a :class:`~pathlib.Path`. Nothing but the complete, verified file
    is ever left at ``dest`` or next to it. The folder of ``dest`` is created if needed:
    calling this function is the explicit request to download into it.

    Raises:
        DownloadError: every mirror failed; the message lists each URL and its failure.
        ValueError: invalid arguments (no URLs, unsupported URL scheme, negative retries).
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    if not url_list:
        raise ValueError("download_file needs at least one URL")
    for url in url_list:
        _check_url(url)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not backoff >= 0:
        raise ValueError(f"backoff must be a non-negative number of seconds, got {backoff!r}")
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    expected_digest = sha256.strip().lower() if sha256 is not None else None

    failures: list[str] = []
    reasons: list[tuple[str, str]] = []
    for url in url_list:
        for attempt in range(retries + 1):
            if attempt:
                delay = backoff * 2 ** (attempt - 1)
                logger.info("retrying %s in %.2g s (attempt %d)", url, delay, attempt + 1)
                time.sleep(delay)
            logger.info("downloading %s", url)
            try:
                with temp_file_in(target.parent, target.name) as (handle, tmp):
                    hasher = hashlib.sha256()
                    _fetch(
                        url,
                        handle,
                        timeout=timeout,
                        progress=progress,
                        desc=target.name,
                        hasher=hasher,
                    )
                    handle.flush()
                    digest = hasher.hexdigest()
                    if expected_digest is not None and digest != expected_digest:
                        raise _Permanent(
                            f"SHA-256 of the download is {digest}, expected {expected_digest}"
                        )
                    if validate is not None:
                        try:
                            validate(tmp)
                        except (DataError, ValueError) as exc:
                            raise _Permanent(f"content check failed: {exc}") from exc
                    commit_temp(handle, tmp, target)
                logger.info("saved %s", target)
                return target
            # Failed attempts are logged at INFO only: the DownloadError raised at the end
            # lists them all, and one warning per attempt would bury it (mirrors x retries).
            except _Permanent as exc:
                failures.append(f"  {url}: {exc}")
                reasons.append((url, str(exc)))
                logger.info("download of %s failed: %s", url, exc)
                break
            except _Transient as exc:
                failures.append(f"  {url} (attempt {attempt + 1}/{retries + 1}): {exc}")
                reasons.append((url, str(exc)))
                logger.info("download of %s failed: %s", url, exc)
    raise DownloadError(
        f"could not download {target.name} into {target.parent}; every mirror failed:\n"
        + "\n".join(failures),
        failures=tuple(reasons),
    )
