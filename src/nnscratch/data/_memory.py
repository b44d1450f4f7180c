"""How much memory a load may take, checked before the memory is allocated.

A file's header (or its size) says how large the arrays built from it will be. Comparing
that figure with what the process can still get turns "killed by the OOM killer after
minutes" or a ``MemoryError`` deep inside NumPy into one line naming both numbers.
"""

from __future__ import annotations

import contextlib
import os

try:
    import resource
except ImportError:  # Windows has no resource module and no RLIMIT_AS
    resource = None  # type: ignore[assignment]

from .errors import InsufficientMemoryError

__all__ = ["available_memory", "check_fits", "format_bytes"]


def _meminfo_available() -> int | None:
    """``MemAvailable`` from /proc/meminfo (Linux), else free physical pages, else None."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    with contextlib.suppress(AttributeError, OSError, ValueError):
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return pages * size
    return None


def _address_space_left() -> int | None:
    """Room left under ``RLIMIT_AS`` (the soft limit minus the current virtual size)."""
    if resource is None:
        return None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft < 0:
            return None
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
        return soft
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smaller of the machine's available
    memory and the room under an address-space limit; ``None`` when neither is known."""
    known = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    return min(known) if known else None


def format_bytes(count: int) -> str:
    """``123456789`` -> ``'123,456,789 bytes (118 MiB)'``: exact figure plus a readable one."""
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            break
        size /= 1024
    readable = f"{count:,} bytes" if unit == "bytes" else f"{count:,} bytes ({size:.3g} {unit})"
    return readable


def check_fits(needed: int, what: str) -> None:
    """Raise :class:`InsufficientMemoryError` if ``needed`` bytes exceed what is available.

    ``what`` names the thing being loaded, e.g. ``"data.csv: 2,000,000 rows x 785 columns"``.
    """
    available = available_memory()
    if available is not None and needed > available:
        raise InsufficientMemoryError(
            f"{what} needs {format_bytes(needed)} of memory, but only "
            f"{format_bytes(available)} are available; refused before allocating it",
            needed=needed,
            available=available,
        )
