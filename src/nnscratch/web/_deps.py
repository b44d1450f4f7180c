"""The playground's optional dependencies, imported only when the playground is used."""

from __future__ import annotations

import importlib.util

#: What ``pip install 'nnscratch[web]'`` provides (the server, its ASGI toolkit, WebSockets).
WEB_PACKAGES = ("starlette", "uvicorn", "websockets")
INSTALL_HINT = "the playground needs: pip install 'nnscratch[web]'"


def missing_web_dependencies() -> list[str]:
    """The names of the playground's packages that are not installed."""
    return [name for name in WEB_PACKAGES if importlib.util.find_spec(name) is None]


def require_web_dependencies() -> None:
    """Raise ImportError with the install command when a playground package is missing."""
    missing = missing_web_dependencies()
    if missing:
        raise ImportError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")
