"""The application factory: routes, middleware, and the lifespan that owns database and broker."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from channels import Broker
from chat import api, api_knowledge, web, web_knowledge
from chat.actions import Services
from chat.auth import SESSION_COOKIE, SESSION_MAX_AGE
from chat.db import Database
from chat.errors import ActionError
from chat.guard import RequestGuard
from chat.hub import SocketFrontDoor
from chat.migrate import migrate
from chat.responses import JSONResponse
from chat.settings import Settings, get_settings

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The database and the broker answer.
      503:
        description: One of them does not.
    """
    services: Services = request.app.state.services
    status = {}
    for name, check in (("database", services.db.ping), ("broker", services.broker.ping)):
        try:
            await asyncio.wait_for(check(), 3)
            status[name] = "ok"
        except Exception as error:  # any failure means "not healthy"; say which
            log.warning("health check of %s failed: %r", name, error)
            status[name] = "failing"
    healthy = all(value == "ok" for value in status.values())
    return JSONResponse(status, status_code=200 if healthy else 503)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return JSONResponse(api.schemas.get_schema(routes=request.app.routes))


async def on_action_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ActionError)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": error.as_dict()}, status_code=error.status)
    if error.status == 401:
        return web._to_login(request)
    return await web.error_page(request, error)


async def on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "invalid_request")
    wrapped = ActionError(code, str(error.detail), error.status_code)
    return await on_action_error(request, wrapped)


def tune_garbage_collector(thresholds: str) -> None:
    """Fewer, cheaper collections once the app has started.

    With a thousand sockets open, Python's default thresholds ran a collection every 700
    allocations and a full one over every socket's objects often enough to make the slowest
    1 % of deliveries at 20 msg/s into 1,000 members 130-210 ms late; with everything made at
    start frozen out of the collector and these thresholds, 47-50 ms (docs/performance.md).
    Reference counting still frees nearly everything at once; only cycles wait longer.
    """
    if not thresholds:
        return
    gc.freeze()
    gc.set_threshold(*(int(part) for part in thresholds.split(",")))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        if settings.migrate_on_start:
            await migrate(database)
        broker = Broker(settings.broker_url, prefix=settings.redis_prefix)
        await broker.connect()
        app.state.services = Services(db=database, broker=broker, settings=settings)
        tune_garbage_collector(settings.gc_thresholds)
        try:
            yield
        finally:
            await broker.disconnect()
            await database.dispose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        Mount("/static", StaticFiles(directory=web.PROJECT_ROOT / "static"), name="static"),
        *api.routes,
        *api_knowledge.routes,
        *web_knowledge.routes,
        *web.routes,
    ]
    middleware = [
        Middleware(SocketFrontDoor, path="/ws", secret=settings.session_secret()),
        Middleware(RequestGuard, allowed_origins=settings.allowed_origins),
        Middleware(
            SessionMiddleware,
            secret_key=settings.session_secret(),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=settings.https_only_cookies,
        ),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={ActionError: on_action_error, HTTPException: on_http_error},
    )
