"""The nnscratch web playground: train networks live in a browser.

Three pages, served from this package with no build step and no network access:

* ``/``: the 2-D playground (datasets in the plane, decision regions, hidden neurons, curves);
* ``/neuron``: seed 002's single sigmoid neuron, quadratic cost versus cross-entropy;
* ``/digits``: an MLP learning MNIST live, and a canvas to draw digits for it.

Start it with ``nnscratch playground`` or::

    from nnscratch.web import serve
    serve(host="127.0.0.1", port=8000, open_browser=False)   # blocks; Ctrl+C stops

and, from tests or a notebook, in a background thread::

    from nnscratch.web import start_server
    with start_server(port=0) as server:    # a free port on 127.0.0.1
        print(server.url)

The server needs the optional packages of the ``web`` extra (``pip install 'nnscratch[web]'``);
they are imported only when a server is started, so ``import nnscratch.web`` always works.
See ``docs/playground.md`` for the pages, the HTTP/WebSocket API and the resource bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._deps import INSTALL_HINT, missing_web_dependencies, require_web_dependencies
from .settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from .runner import RunningServer

__all__ = [
    "INSTALL_HINT",
    "RunningServer",
    "Settings",
    "create_app",
    "missing_web_dependencies",
    "require_web_dependencies",
    "serve",
    "start_server",
]


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Start the playground at http://host:port/, print its address and block until Ctrl+C.

    ``port=0`` picks a free port; ``open_browser`` opens the page in the default browser.
    Raises ImportError naming ``pip install 'nnscratch[web]'`` when the server's packages are
    missing, and OSError when the address cannot be used (e.g. the port is taken).
    """
    from .runner import serve as _serve

    _serve(host=host, port=port, open_browser=open_browser)


def start_server(
    host: str = "127.0.0.1", port: int = 0, settings: Settings | None = None, timeout: float = 20.0
) -> RunningServer:
    """Run the playground in a background thread; returns a handle with ``url`` and ``stop()``."""
    from .runner import start_server as _start

    return _start(host=host, port=port, settings=settings, timeout=timeout)


def create_app(settings: Settings | None = None) -> Any:
    """The playground as an ASGI (Starlette) application, e.g. for ``TestClient``."""
    require_web_dependencies()
    from .server import create_app as _create

    return _create(settings)


def __getattr__(name: str) -> Any:
    if name == "RunningServer":
        from .runner import RunningServer

        return RunningServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
