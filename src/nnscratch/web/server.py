"""The playground's HTTP and WebSocket server (a Starlette application).

HTTP API (JSON in and out; every error is ``{"error": message, "field": name}`` with a 4xx
status, never a crash):

=======  ====================================  ==============================================
GET      ``/``, ``/neuron``, ``/digits``       the three pages (plain HTML, CSS and JS)
GET      ``/api/info``                         version, defaults, presets, choices, limits
POST     ``/api/sessions``                     ``{"kind": "playground"|"digits", "params"}``
GET      ``/api/sessions/{id}``                the session's state
DELETE   ``/api/sessions/{id}``                close the session
POST     ``/api/sessions/{id}/config``         ``{name: value, ...}`` (a partial update)
POST     ``/api/sessions/{id}/control``        ``{"action": "play"|"pause"|"step"|"reset"}``
GET      ``/api/sessions/{id}/frame``          everything the page draws, in one frame
POST     ``/api/sessions/{id}/dataset``        a CSV file (x1,x2,label) as the request body
GET      ``/api/sessions/{id}/model``          the trained model (nnscratch ``.npz``)
POST     ``/api/sessions/{id}/model``          use an uploaded model file (digits)
POST     ``/api/sessions/{id}/predict``        ``{"image": {width, height, data}}`` (digits)
POST     ``/api/neuron``                       the single-neuron experiment's trajectory
WS       ``/api/sessions/{id}/ws``             frames pushed live; commands accepted
=======  ====================================  ==============================================

WebSocket: the server pushes ``{"type": "frame", ...}`` whenever the session has something
new (at most one frame per training chunk, coalesced for slow clients). The client may send
``{"type": "config", "params": {...}}``, ``{"type": "control", "action": ...}``,
``{"type": "predict", "image": {...}}``, ``{"type": "state"}`` or ``{"type": "ping"}``, each
with an optional ``"id"`` echoed in the answer (``ack``, ``prediction``, ``pong`` or
``error``). A malformed message gets an ``error`` back and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ._deps import require_web_dependencies

require_web_dependencies()

from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import FileResponse, Response  # noqa: E402
from starlette.routing import Mount, Route, WebSocketRoute  # noqa: E402
from starlette.staticfiles import StaticFiles  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402

from .. import __version__  # noqa: E402
from . import digits, neuron, playground  # noqa: E402
from .sessions import Cursor, ModelSession, Session, SessionManager  # noqa: E402
from .settings import (  # noqa: E402
    MAX_CLASSES,
    MAX_EPOCHS_PER_STEP,
    MAX_HIDDEN_LAYERS,
    MAX_POINTS,
    MAX_UNITS,
    Settings,
)
from .validation import ParamError  # noqa: E402

log = logging.getLogger("nnscratch.web")

STATIC_DIR = Path(str(resources.files(__package__).joinpath("static")))
PAGES = {"/": "playground.html", "/neuron": "neuron.html", "/digits": "digits.html"}

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'none'",
    ),
]


# -- JSON helpers ----------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def parse_json(text: str | bytes) -> Any:
    """Strict JSON (no NaN or Infinity); a ParamError(400) when malformed."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParamError(f"the message is not valid JSON: {exc}", status=400) from None
    except RecursionError:
        raise ParamError(
            "the message is not valid JSON: its arrays or objects are nested too deeply",
            status=400,
        ) from None


def dump_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_json(value), status, headers, media_type="application/json")


def error_response(exc: ParamError) -> Response:
    return json_response(exc.to_json(), exc.status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (checked while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ParamError("invalid Content-Length header", status=400)
        if int(declared) > limit:
            raise ParamError(f"the request body is larger than {limit:,} bytes", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ParamError(f"the request body is larger than {limit:,} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, default: Any = None) -> Any:
    body = await read_body(request, limit)
    if not body.strip():
        if default is not None:
            return default
        raise ParamError("the request needs a JSON body", status=400)
    return parse_json(body)


Endpoint = Callable[[Request], Awaitable[Response]]


def api(handler: Endpoint) -> Endpoint:
    """Turn ParamError into its 4xx answer and any other failure into a logged 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ParamError as exc:
            return error_response(exc)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return json_response({"error": "internal server error (see the server log)"}, 500)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# -- middleware ------------------------------------------------------------------------------
class GuardMiddleware:
    """Security headers on every HTTP answer, and a Host-header check (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    @staticmethod
    def _host(scope: Scope) -> str | None:
        """The Host header's host name (lower case, no port), or None without one."""
        for key, value in scope.get("headers", []):
            if key == b"host":
                return (urlsplit("//" + value.decode("latin-1")).hostname or "").lower()
        return None

    def _host_ok(self, scope: Scope) -> bool:
        if self.allowed is None:
            return True
        host = self._host(scope)
        return host is not None and host in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self._host_ok(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4400})
                return
            # what was wrong and what is allowed (host names only: nothing secret)
            host = self._host(scope)
            wrong = "no Host header" if host is None else f"unexpected Host header {host!r}"
            allowed = ", ".join(sorted(self.allowed or ()))
            response = json_response(
                {
                    "error": f"{wrong}: this server answers only to {allowed} "
                    "(allowed_hosts, a guard against DNS rebinding)"
                },
                400,
            )
            await response(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if scope["path"].startswith("/static/") or scope["path"] in PAGES:
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- the application -------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> Starlette:
    """The playground as an ASGI application (``app.state.manager`` holds the sessions)."""
    settings = settings or Settings()
    cache = digits.MnistCache(settings.mnist_path)
    manager = SessionManager(
        settings,
        {"playground": playground.playground_factory, "digits": digits.digits_factory(cache)},
    )

    def session_of(request: Request) -> Session:
        return manager.get(request.path_params["sid"])

    async def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / PAGES[request.url.path], media_type="text/html")

    @api
    async def health(request: Request) -> Response:
        return json_response({"ok": True, "sessions": len(manager)})

    @api
    async def info(request: Request) -> Response:
        return json_response(
            {
                "version": __version__,
                "limits": {
                    "max_sessions": settings.max_sessions,
                    "idle_timeout_s": settings.idle_timeout,
                    "unattended_timeout_s": settings.unattended_timeout,
                    "session_memory_bytes": settings.session_memory,
                    "max_upload_bytes": settings.max_upload_bytes,
                    "max_message_bytes": settings.max_message_bytes,
                    "max_csv_rows": settings.max_csv_rows,
                    "max_hidden_layers": MAX_HIDDEN_LAYERS,
                    "max_units": MAX_UNITS,
                    "max_points": MAX_POINTS,
                    "max_classes": MAX_CLASSES,
                    "max_epochs_per_step": MAX_EPOCHS_PER_STEP,
                    "max_step_seconds": settings.max_step_seconds,
                    "training_workers": settings.training_workers,
                },
                "playground": {
                    "defaults": playground.DEFAULTS,
                    "presets": playground.PRESETS,
                    "datasets": list(playground.DATASETS),
                    "fixed_classes": playground.FIXED_CLASSES,
                    "activations": list(playground.ACTIVATIONS),
                    "losses": list(playground.LOSSES),
                    "optimizers": list(playground.OPTIMIZERS),
                    "regularization": list(playground.REGULARIZATION),
                    "live": sorted(k for k, f in playground.FIELDS.items() if f.live),
                },
                "digits": {
                    "defaults": digits.DEFAULTS,
                    "presets": digits.PRESETS,
                    "sources": cache.status(),
                    "live": sorted(k for k, f in digits.FIELDS.items() if f.live),
                },
                "neuron": {"presets": neuron.NEURON_PRESETS, "costs": list(neuron.COSTS)},
            }
        )

    @api
    async def create_session(request: Request) -> Response:
        body = await read_json(request, settings.max_message_bytes, default={})
        if not isinstance(body, dict):
            raise ParamError("the request body must be a JSON object", status=400)
        unknown = sorted(str(k) for k in body if k not in ("kind", "params"))
        if unknown:
            raise ParamError(f"unknown field {unknown[0]!r}; expected kind and params", unknown[0])
        session = await run_in_threadpool(manager.create, body.get("kind"), body.get("params"))
        return json_response(await run_in_threadpool(session.state), 201)

    @api
    async def get_session(request: Request) -> Response:
        session = session_of(request)
        return json_response(await run_in_threadpool(session.state))

    @api
    async def delete_session(request: Request) -> Response:
        await run_in_threadpool(manager.delete, request.path_params["sid"])
        return Response(status_code=204)

    @api
    async def configure(request: Request) -> Response:
        session = session_of(request)
        body = await read_json(request, settings.max_message_bytes)
        return json_response(await run_in_threadpool(session.configure, body))

    @api
    async def control(request: Request) -> Response:
        arrived = time.monotonic()  # a step's time limit counts from here
        session = session_of(request)
        body = await read_json(request, settings.max_message_bytes)
        if not isinstance(body, dict):
            raise ParamError("the request body must be a JSON object", status=400)
        result = await run_in_threadpool(session.control, body.get("action"), body, arrived=arrived)
        return json_response(result)

    @api
    async def frame(request: Request) -> Response:
        session = session_of(request)
        return json_response(await run_in_threadpool(session.frame, Cursor()))

    @api
    async def upload_dataset(request: Request) -> Response:
        session = session_of(request)
        if not isinstance(session, playground.PlaygroundSession):
            raise ParamError("only playground sessions take a CSV dataset", status=409)
        data = await read_body(request, settings.max_upload_bytes)
        name = request.query_params.get("name", "upload.csv")[:200]
        return json_response(await run_in_threadpool(session.upload, data, name))

    @api
    async def download_model(request: Request) -> Response:
        session = session_of(request)
        if not isinstance(session, ModelSession):  # never: both kinds of session hold a model
            raise ParamError("this session has no model to download", status=409)
        data, name = await run_in_threadpool(session.model_bytes)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    @api
    async def upload_model(request: Request) -> Response:
        session = session_of(request)
        if not isinstance(session, digits.DigitsSession):
            raise ParamError("only digits sessions take an uploaded model", status=409)
        data = await read_body(request, settings.max_upload_bytes)
        if not data:
            raise ParamError("the request body is empty; send the .npz model file", "file", 400)
        name = request.query_params.get("name", "model.npz")[:200]
        return json_response(await run_in_threadpool(session.upload_model, data, name))

    @api
    async def predict(request: Request) -> Response:
        session = session_of(request)
        if not isinstance(session, digits.DigitsSession):
            raise ParamError("only digits sessions predict drawings", status=409)
        body = await read_json(request, settings.max_message_bytes)
        if not isinstance(body, dict):
            raise ParamError("the request body must be a JSON object", status=400)
        return json_response(await run_in_threadpool(session.predict, body))

    @api
    async def neuron_run(request: Request) -> Response:
        body = await read_json(request, settings.max_message_bytes, default={})
        return json_response(await run_in_threadpool(neuron.neuron_trajectory, body))

    async def socket(websocket: WebSocket) -> None:
        await serve_socket(websocket, manager, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(settings.reap_interval)
                try:
                    await run_in_threadpool(manager.reap)
                except Exception:  # keep reaping whatever happened to one session
                    log.exception("reaper failed")

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await run_in_threadpool(manager.close_all)

    sid = "/api/sessions/{sid}"
    routes = [
        *(Route(path, page, methods=["GET"]) for path in PAGES),
        Route("/api/health", health, methods=["GET"]),
        Route("/api/info", info, methods=["GET"]),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route(sid, get_session, methods=["GET"]),
        Route(sid, delete_session, methods=["DELETE"]),
        Route(sid + "/config", configure, methods=["POST"]),
        Route(sid + "/control", control, methods=["POST"]),
        Route(sid + "/frame", frame, methods=["GET"]),
        Route(sid + "/dataset", upload_dataset, methods=["POST"]),
        Route(sid + "/model", download_model, methods=["GET"]),
        Route(sid + "/model", upload_model, methods=["POST"]),
        Route(sid + "/predict", predict, methods=["POST"]),
        Route("/api/neuron", neuron_run, methods=["POST"]),
        WebSocketRoute(sid + "/ws", socket),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = getattr(exc, "detail", None) or "not found"
        return json_response({"error": str(detail)}, status)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found},
    )
    app.state.manager = manager
    app.state.settings = settings
    app.add_middleware(GuardMiddleware, allowed_hosts=settings.allowed_hosts)
    return app


# -- the WebSocket ---------------------------------------------------------------------------
def _origin_ok(websocket: WebSocket) -> bool:
    """Browsers send Origin; a page from another site must not drive a local session."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # not a browser (tests, scripts)
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


async def serve_socket(websocket: WebSocket, manager: SessionManager, settings: Settings) -> None:
    """Push frames of one session and answer its commands until the client goes away."""
    if not _origin_ok(websocket):
        await websocket.close(code=4403)
        return
    await websocket.accept()
    try:
        session = manager.get(websocket.path_params["sid"])
    except ParamError as exc:
        await websocket.send_text(dump_json({"type": "error", **exc.to_json(), "status": 404}))
        await websocket.close(code=4404)
        return

    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    send_lock = asyncio.Lock()
    cursor = Cursor()

    def poke() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(wake.set)

    async def send(message: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_text(dump_json(message))

    async def pusher() -> None:
        while True:
            await wake.wait()
            wake.clear()
            if session.closed:
                await send({"type": "closed", "error": "the session was closed", "status": 404})
                await websocket.close(code=4404)
                return
            try:
                frame = await run_in_threadpool(session.frame, cursor)
            except Exception:  # report it, and keep the connection and the session alive
                log.exception("session %s: building a frame failed", session.id)
                frame = {"type": "error", "error": "a frame could not be built (see the log)"}
            try:
                await send(frame)
            except Exception:  # the client went away; the receive loop ends the connection
                return
            await asyncio.sleep(0.02)  # coalesce bursts: a slow client gets the latest frame

    session.sockets += 1
    token = session.add_listener(poke)
    wake.set()  # the first frame carries everything
    push_task = asyncio.create_task(pusher())
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            session.touch()
            reply = await _answer(session, message, settings)
            if reply is not None:
                await send(reply)
    except WebSocketDisconnect:
        pass
    except RuntimeError:  # the pusher closed the socket (session closed)
        pass
    finally:
        push_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await push_task
        session.remove_listener(token)
        session.sockets -= 1
        session.touch()


async def _answer(session: Session, message: Message, settings: Settings) -> dict[str, Any] | None:
    """The reply to one client message: an ack, a prediction, a pong or an error."""
    arrived = time.monotonic()  # a step's time limit counts from here
    text = message.get("text")
    if text is None:
        return {"type": "error", "error": "binary messages are not supported; send JSON text"}
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > settings.max_message_bytes:
        return {
            "type": "error",
            "error": f"the message is too large: {size:,} bytes, larger than "
            f"{settings.max_message_bytes:,} bytes (max_message_bytes)",
            "status": 413,
        }
    try:
        body = parse_json(text)
    except ParamError as exc:
        return {"type": "error", **exc.to_json(), "status": exc.status}
    if not isinstance(body, dict):
        return {"type": "error", "error": "a message must be a JSON object with a 'type'"}
    mid = body.get("id")
    if not (mid is None or isinstance(mid, (int, str))) or isinstance(mid, bool):
        mid = None
    if body.get("type") == "ping":
        return {"type": "pong", "id": mid}
    try:
        result = await run_in_threadpool(session.command, body, arrived=arrived)
    except ParamError as exc:
        return {"type": "error", "id": mid, **exc.to_json(), "status": exc.status}
    except Exception:
        log.exception("session %s: command failed", session.id)
        return {"type": "error", "id": mid, "error": "internal server error", "status": 500}
    if result.get("type") == "prediction":
        return {**result, "id": mid}
    return {"type": "ack", "id": mid, "result": result}
