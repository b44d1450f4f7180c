"""How many threads NumPy's BLAS library may use while nnscratch trains and predicts.

Every matrix product of a step (``x @ W`` forward, ``x.T @ dz`` and ``dz @ W.T`` backward) runs
in the BLAS library NumPy was built with (OpenBLAS in the wheels), which splits it over its
threads. A second thread helps a product only while it has a core of its own: OpenBLAS's threads
wait for each other at the end of every product, so when another process holds one of the cores,
every product waits for the descheduled thread's next time slice (milliseconds). An epoch makes
thousands of products of well under a millisecond, so it collapses. Measured on 2 cores with
OpenBLAS 0.3.31 (SkylakeX kernel) while a second process kept one core busy: the bundled-sample
epoch (784-128-10, batch 32, Adam) took 3.1 s with 2 threads and 0.13 s with one; on an idle
machine it took 0.085 s with 2 threads and 0.054 s with one, since each product is too small to
pay for waking the second thread.

``threads="auto"`` (the default of ``Model.fit``, ``predict``, ``evaluate``) picks the count once
per call, from the largest product of a step, n = batch x fan_in x fan_out multiply-adds:

1. never more than the library allows now: ``OPENBLAS_NUM_THREADS``, an enclosing
   ``threadpool_limits``, or the cap a joblib (loky), Dask or Ray worker sets;
2. 1 inside a parallel worker: on any thread but the main one (joblib's threading backend,
   Dask's threads, the playground), whose concurrent calls share one process-wide BLAS
   setting, and in a joblib worker process (nesting level >= 1), so that a search with
   ``n_jobs > 1`` runs one BLAS thread per worker;
3. 1 when n < ``SMALL_PRODUCT`` (2**26, about 67 million: a 784-256 layer from batch 335
   on). Measured on 2 idle cores, 784-256-128-10 epochs of 20,000 images: one thread was
   faster at batch 32 (0.48 s against 0.65 s) and 128 (0.29 against 0.36), as fast at 256,
   slower at 64 (0.34 against 0.27) and at 512 (0.25 against 0.15); below the bound a second
   thread gains at most about a quarter on an idle machine and loses 10-25 times on a busy
   one, which a look at the machine before training cannot rule out;
4. otherwise the usable cores (``os.sched_getaffinity``, and a cgroup CPU quota) minus the
   cores that other processes kept busy over a 50 ms look at ``/proc/stat`` (this process's own
   CPU time taken out), rounded down after adding 0.3, at least 1. ``fit`` reuses a look
   less than 1 s old; ``predict`` and ``evaluate`` reuse one less than 60 s old and otherwise
   assume none rather than wait. Without ``/proc/stat`` (macOS, Windows): the usable cores.
   (The load average cannot tell: it trails by a minute and counts this process's own
   threads; it read 3.1 on 2 cores that the look found idle.)

An int fixes the count, and ``use_threads(n)`` fixes it for every ``"auto"`` call in its block
(the command line's ``--threads``). The previous setting comes back when the call ends. Calls
that overlap on several threads each hold their own count; the library runs with the smallest.

Different counts may round differently (the 784-256-128-10 weights after 2 epochs at batch 512
differed by up to 2e-6 between 1 and 2 threads). Below ``SMALL_PRODUCT`` the count is always 1;
above it, where it follows the machine's load, give an int when runs must be bitwise identical.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np  # noqa: F401 - loads the BLAS library before threadpoolctl looks for it
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:
    from ..core.network import Sequential

#: Below this many multiply-adds in a step's largest product, a second thread is not worth it.
SMALL_PRODUCT = 1 << 26
#: Below this many, no BLAS splits a product anyway (OpenBLAS's own bound is 65536 x 4), so a
#: prediction with ``"auto"`` leaves the setting alone: one image takes about 30 microseconds,
#: and changing the setting and back would add a third.
TINY_PRODUCT = 1 << 18
#: How long the look at other processes' CPU use lasts, and how long predict reuses it.
PROBE_SECONDS = 0.05
PROBE_REUSE_SECONDS = 60.0

Threads = int | str


class ThreadChoice(NamedTuple):
    """The BLAS thread count chosen for one call, and why (for logs and tests)."""

    # shadows tuple.count, which mypy refuses for a NamedTuple field; the name is public API
    # (``choice.count``) and the tuple form is compared in tests, so the field keeps it
    count: int  # type: ignore[assignment]
    reason: str


def check_threads(threads: object) -> Threads:
    """``threads`` itself if it is ``"auto"`` or a positive int, else a one-line ValueError."""
    if isinstance(threads, str) and threads == "auto":
        return threads
    if isinstance(threads, (int, np.integer)) and not isinstance(threads, bool) and threads >= 1:
        return int(threads)
    raise ValueError(f"threads must be 'auto' or a positive integer, got {threads!r}")


def parse_threads(text: str) -> Threads:
    """``"auto"`` or a positive integer, from a command-line or environment string."""
    word = text.strip().lower()
    if word == "auto":
        return "auto"
    try:
        value = int(word)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"expected 'auto' or a positive integer, got {text!r}")
    return value


def largest_product(network: Sequential, batch: int) -> int:
    """Multiply-adds of a step's largest matrix product: batch x fan_in x fan_out for a dense
    layer's W, batch*OH*OW x C*kh*kw x F for a convolution's kernel (F x C x kh x kw), whose
    im2col product meets every output position of every sample."""
    largest = 0
    for layer in network.layers:
        for p in layer.parameters():
            if p.value.ndim == 2:
                largest = max(largest, p.value.size)
            elif p.value.ndim == 4 and layer.output_shape and len(layer.output_shape) == 3:
                positions = layer.output_shape[1] * layer.output_shape[2]
                largest = max(largest, p.value.size * positions)
    return int(batch) * largest


def predict_product(network: Sequential, x: object, batch_size: int | None) -> int:
    """``largest_product`` for a prediction over ``x`` in batches of ``batch_size`` rows."""
    try:
        rows = len(x) if isinstance(x, Sized) else 0
    except TypeError:  # Sized but without a length: a 0-d array, a SciPy sparse matrix
        rows = 0  # not an array: predict itself says what is wrong
    return largest_product(network, min(rows, batch_size) if batch_size else rows)


# -- the library -----------------------------------------------------------------------------
_lock = threading.Lock()


class _BlasLibrary(Protocol):
    """What this module uses of a threadpoolctl library controller (threadpoolctl has no
    type annotations of its own)."""

    @property
    def num_threads(self) -> int: ...

    def set_num_threads(self, num_threads: int) -> None: ...


_libraries: list[_BlasLibrary] | None = None


def _blas() -> list[_BlasLibrary]:
    """The BLAS libraries loaded in this process (NumPy's, and any loaded before the first
    call), found once: looking them up takes about a millisecond, a call after that a few
    microseconds."""
    global _libraries
    if _libraries is None:
        with _lock:
            if _libraries is None:
                found = ThreadpoolController().select(user_api="blas").lib_controllers
                # a library whose thread count cannot be read cannot be controlled either
                _libraries = [lib for lib in found if lib.num_threads is not None]
    return _libraries


def current_blas_threads() -> int | None:
    """The thread count the BLAS library uses now (the smallest, if several are loaded);
    None when NumPy's BLAS cannot be controlled."""
    counts = [lib.num_threads for lib in _blas()]
    return min(counts) if counts else None


# -- the machine -----------------------------------------------------------------------------
def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _cpu_ticks(cpus: set[int]) -> tuple[int, int] | None:
    """(busy, total) clock ticks of the given CPUs since boot, from /proc/stat."""
    busy = total = 0
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if not line.startswith("cpu") or line.startswith("cpu "):
                    continue
                name, *fields = line.split()
                if not name[3:].isdigit() or int(name[3:]) not in cpus:
                    continue
                # user nice system idle iowait irq softirq steal (guest time is inside user)
                ticks = [int(v) for v in fields[:8]]
                total += sum(ticks)
                busy += sum(ticks) - ticks[3] - ticks[4]
    except (OSError, ValueError):
        return None
    return (busy, total) if total else None


_last_probe: tuple[float, float] | None = None  # (monotonic time, busy cores)


def others_busy(seconds: float = PROBE_SECONDS, reuse: float = 0.0) -> float | None:
    """How many cores other processes kept busy over the next ``seconds`` (a look at
    /proc/stat, less this process's own CPU time); a look less than ``reuse`` seconds old is
    returned without a new one. None where /proc/stat is missing."""
    global _last_probe
    now = time.monotonic()
    if reuse > 0 and _last_probe is not None and now - _last_probe[0] < reuse:
        return _last_probe[1]
    if reuse > 0 and seconds == 0:
        return None
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None
    first = _cpu_ticks(cpus)
    if first is None:
        return None
    own0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    second = _cpu_ticks(cpus)
    own1, wall1 = time.process_time(), time.perf_counter()
    if second is None or second[1] <= first[1]:
        return None
    # ticks over all the CPUs are len(cpus) x wall time, whatever the tick rate is
    tick = (wall1 - wall0) * len(cpus) / (second[1] - first[1])
    busy = ((second[0] - first[0]) * tick - (own1 - own0)) / (wall1 - wall0)
    busy = min(max(busy, 0.0), float(len(cpus)))
    _last_probe = (time.monotonic(), busy)
    return busy


def in_parallel_worker() -> bool:
    """True on a thread other than the main one, or in a joblib worker process."""
    if threading.current_thread() is not threading.main_thread():
        return True
    parallel = sys.modules.get("joblib.parallel")
    if parallel is None:
        return False
    try:
        backend, _ = parallel.get_active_backend()
        return (getattr(backend, "nesting_level", 0) or 0) > 0
    except Exception:  # noqa: BLE001 - an unknown joblib: not a worker we can tell
        return False


# -- the choice ------------------------------------------------------------------------------
_fixed: list[int] = []  # counts fixed by enclosing use_threads blocks, innermost last


@contextmanager
def use_threads(threads: Threads) -> Iterator[None]:
    """Within the block, every ``threads="auto"`` call uses ``threads`` when it is an int
    (``"auto"``: no change). What the command line's ``--threads`` does."""
    threads = check_threads(threads)
    if isinstance(threads, str):  # "auto", the only word check_threads lets through
        yield
        return
    _fixed.append(threads)
    try:
        yield
    finally:
        _fixed.remove(threads)


def choose_threads(threads: Threads, product: int, *, probe: bool = True) -> ThreadChoice:
    """The BLAS thread count for a call whose largest product is ``product`` multiply-adds
    (the rule in the module's docstring). ``probe=False`` reuses a recent look at the other
    processes, or assumes none, rather than take a new one."""
    threads = check_threads(threads)
    if threads == "auto" and _fixed:
        threads = _fixed[-1]
    if not isinstance(threads, str):  # an int; the only word check_threads lets through is "auto"
        return ThreadChoice(threads, "fixed")
    if product < SMALL_PRODUCT:  # first: the cheapest test, and the common case
        return ThreadChoice(1, f"small products ({product:,} < {SMALL_PRODUCT:,} multiply-adds)")
    allowed = current_blas_threads()
    if allowed is None:
        return ThreadChoice(1, "no BLAS library to control")
    if allowed <= 1:
        return ThreadChoice(1, "the BLAS library is limited to 1 thread")
    if in_parallel_worker():
        return ThreadChoice(1, "inside a parallel worker")
    cores = min(allowed, usable_cores())
    busy = others_busy(reuse=1.0) if probe else others_busy(0.0, reuse=PROBE_REUSE_SECONDS)
    if busy is None:
        return ThreadChoice(cores, f"{cores} usable cores")
    free = max(1, min(cores, math.floor(cores - busy + 0.3)))
    return ThreadChoice(free, f"{cores} usable cores, {busy:.1f} busy with other processes")


# -- applying it -----------------------------------------------------------------------------
_held: dict[int, list[int]] = {}  # thread id -> counts of its active calls, innermost last
_original: list[int] = []


def _apply(counts: list[int]) -> None:
    for lib, count in zip(_blas(), counts, strict=True):
        if lib.num_threads != count:
            # threadpoolctl (>= 3.6) lets only the first thread that set OpenBLAS's
            # process-wide count change it, and ignores the others: a joblib threading
            # worker could not lower it. The lock and the smallest-count rule here keep
            # concurrent calls consistent instead, so set the count directly.
            setter = getattr(lib, "_real_set_num_threads", None) or lib.set_num_threads
            setter(count)


@contextmanager
def blas_threads(
    threads: Threads = "auto", product: int = 0, *, probe: bool = True
) -> Iterator[ThreadChoice]:
    """Run the block with the BLAS thread count ``choose_threads`` picks; restore the previous
    setting afterwards. ``probe=False`` (predictions) also leaves the setting alone for
    products below ``TINY_PRODUCT``. Within one thread the innermost block decides; across threads the
    library runs with the smallest count any active block asked for."""
    threads = check_threads(threads)
    if not probe and threads == "auto" and not _fixed and product < TINY_PRODUCT:
        yield ThreadChoice(1, "tiny products: the library runs them on one thread")
        return
    choice = choose_threads(threads, product, probe=probe)
    libraries = _blas()
    if not libraries:
        yield choice
        return
    key = threading.get_ident()
    with _lock:
        if not _held:
            _original[:] = [lib.num_threads for lib in libraries]
        _held.setdefault(key, []).append(choice.count)
        _apply([min(counts[-1] for counts in _held.values())] * len(libraries))
    try:
        yield choice
    finally:
        with _lock:
            counts = _held[key]
            counts.pop()
            if not counts:
                del _held[key]
            if _held:
                _apply([min(c[-1] for c in _held.values())] * len(libraries))
            else:
                _apply(list(_original))
