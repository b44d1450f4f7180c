"""Running the playground: ``serve`` (blocking, for the command line) and ``start_server``
(in a background thread, for tests and notebooks)."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._deps import require_web_dependencies
from .settings import Settings

if TYPE_CHECKING:
    import uvicorn

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free port."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535, got {port!r}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve host {host!r}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = "; pass port=0 (--port 0) to use any free port" if port else ""
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _make_server(sock: socket.socket, host: str, settings: Settings | None) -> uvicorn.Server:
    import uvicorn

    from .server import create_app

    settings = settings or Settings()
    if settings.allowed_hosts is None and _is_loopback(host):
        host_name = sock.getsockname()[0]
        settings = settings.with_(allowed_hosts=(*LOOPBACK_NAMES, host_name))
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        ws_max_size=settings.max_message_bytes + 1024,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Start the playground at http://host:port/, print its address and block until Ctrl+C.

    ``port=0`` picks a free port. The default host, 127.0.0.1, serves this machine only; the
    playground has no authentication, so bind another address only on a network you trust.
    ``open_browser`` opens the page in the default web browser once the server listens.
    """
    require_web_dependencies()
    sock = _bind(host, port)
    server = _make_server(sock, host, None)
    url = _url(sock)
    print(f"nnscratch playground: {url}  (Ctrl+C to stop)", flush=True)
    if not _is_loopback(host):
        print(
            "warning: the playground has no authentication and is reachable from the network "
            f"at {host}",
            file=sys.stderr,
            flush=True,
        )
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@dataclass
class RunningServer:
    """A playground server running in a background thread (see ``start_server``)."""

    url: str
    host: str
    port: int
    app: object
    _server: uvicorn.Server
    _thread: threading.Thread
    _socket: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down (closing every session) and wait for the thread to finish."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError(f"the playground server did not stop within {timeout} s")

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    host: str = "127.0.0.1", port: int = 0, settings: Settings | None = None, timeout: float = 20.0
) -> RunningServer:
    """Start the playground in a daemon thread and return once it accepts connections.

    Use it as a context manager (``with start_server() as srv: ... srv.url``) or call
    ``stop()``; ``port=0`` (the default) picks a free port.
    """
    require_web_dependencies()
    sock = _bind(host, port)
    server = _make_server(sock, host, settings)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="nnscratch-playground", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError("the playground server failed to start (see the log above)")
        time.sleep(0.02)
    real_host, real_port = sock.getsockname()[:2]
    return RunningServer(_url(sock), real_host, real_port, server.config.app, server, thread, sock)
