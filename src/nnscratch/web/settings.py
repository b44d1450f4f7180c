"""The playground server's resource bounds, in one place.

The playground puts no arbitrary limits on what can be trained: the bounds below exist only so
that one browser tab cannot take the whole machine from the others. Each is documented in
``docs/playground.md``; a request beyond one is refused with a message that names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    """Server-wide limits and timings (all sizes in bytes, all times in seconds)."""

    #: Live sessions at once (one per browser tab). When full, the least recently used session
    #: without an open connection is closed to make room; if every one is connected, 503.
    max_sessions: int = 32
    #: A session with no request and no open WebSocket for this long is closed by the reaper.
    idle_timeout: float = 900.0
    #: How often the reaper looks for idle sessions.
    reap_interval: float = 10.0
    #: A session that is training but has had no client (no socket, no request) for this long
    #: pauses by itself, so a closed tab does not keep a CPU core busy until it expires.
    unattended_timeout: float = 60.0
    #: Estimated memory one session may use (network, optimizer state, data, buffers).
    session_memory: int = 512 * 2**20
    #: Sessions that compute at the same moment; the others wait their turn (fair share).
    training_workers: int = field(default_factory=_default_workers)
    #: Largest request body: uploaded CSV files and saved models.
    max_upload_bytes: int = 32 * 2**20
    #: Largest JSON request body or WebSocket message.
    max_message_bytes: int = 4 * 2**20
    #: Rows of an uploaded 2-D CSV file.
    max_csv_rows: int = 200_000
    #: Longest a single "step" request may train before it stops early (with a notice).
    max_step_seconds: float = 30.0
    #: Target time between two animation frames of the 2-D playground, and of the digits page.
    frame_interval: float = 1 / 15
    digits_frame_interval: float = 0.25
    #: Where to look for full MNIST (None: NNSCRATCH_DATA and the library's usual places).
    mnist_path: str | None = None
    #: Host names accepted in the Host header (DNS-rebinding guard); None accepts any.
    allowed_hosts: tuple[str, ...] | None = None

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)


#: Sizes the forms accept (upper bounds that follow from the memory bound, kept explicit so
#: that a request fails fast with a clear message rather than by an allocation).
MAX_HIDDEN_LAYERS = 16
MAX_UNITS = 2048
MAX_POINTS = 100_000
MAX_CLASSES = 20
MAX_EPOCHS_PER_STEP = 1000
