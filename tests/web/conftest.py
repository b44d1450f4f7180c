"""Fixtures for the playground tests: an in-process client, sessions, and a hang guard.

The server-level tests drive the Starlette application through ``TestClient`` (no sockets);
the end-to-end tests start the real server on 127.0.0.1 with a free port. Every test is
bounded: a watchdog dumps the stacks and ends the run if one test takes more than two minutes.
"""

from __future__ import annotations

import faulthandler
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nnscratch.web import Settings, missing_web_dependencies

WATCHDOG_S = 120


@pytest.fixture(autouse=True)
def _watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def _require_server_packages() -> None:
    missing = missing_web_dependencies()
    if missing:
        pytest.skip(
            f"the playground's packages are missing ({', '.join(missing)}): pip install 'nnscratch[web]'"
        )
    pytest.importorskip("httpx2", reason="starlette's TestClient needs httpx2")


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """Build TestClients (lifespan started) for given settings; all are closed afterwards."""
    _require_server_packages()
    from starlette.testclient import TestClient

    from nnscratch.web import create_app

    clients = []

    def make(settings: Settings | None = None) -> Any:
        client = TestClient(create_app(settings or Settings()))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()


class SessionApi:
    """Small helpers around one session's HTTP endpoints."""

    def __init__(self, client: Any, kind: str = "playground", params: dict | None = None) -> None:
        self.client = client
        body: dict[str, Any] = {"kind": kind}
        if params is not None:
            body["params"] = params
        response = client.post("/api/sessions", json=body)
        assert response.status_code == 201, response.text
        self.state = response.json()
        self.id = self.state["session"]
        self.base = f"/api/sessions/{self.id}"

    def config(self, **params: Any) -> Any:
        return self.client.post(f"{self.base}/config", json=params)

    def control(self, action: str, **extra: Any) -> Any:
        return self.client.post(f"{self.base}/control", json={"action": action, **extra})

    def step(self, epochs: int = 1) -> dict:
        response = self.control("step", epochs=epochs)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self) -> dict:
        response = self.client.get(self.base)
        assert response.status_code == 200, response.text
        return response.json()

    def frame(self) -> dict:
        response = self.client.get(f"{self.base}/frame")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def new_session(client: Any) -> Callable[..., SessionApi]:
    def make(kind: str = "playground", params: dict | None = None, on: Any = None) -> SessionApi:
        return SessionApi(on or client, kind, params)

    return make
