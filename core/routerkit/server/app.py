"""`create_app`: the FastAPI application factory (no work at import; everything comes from the config)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from routerkit._env import named_variable
from routerkit.errors import ConfigError, RoutingError
from routerkit.server.chat import ChatCompletionRequest, ChatService
from routerkit.server.config import ServerConfig
from routerkit.server.exchange import CHAT_PATH, Exchange, RecordRequests, exchange_of, request_id_of
from routerkit.server.guard import ApiKeyGuard, BodyLimit
from routerkit.server.logs import log_event
from routerkit.server.metrics import ServerMetrics
from routerkit.server.responses import openai_error
from routerkit.server.selection import RouteTable
from routerkit.server.upstream import Upstreams

__all__ = ["client_keys", "create_app"]

CLIENT_SHARDS = 8
"""httpx clients the upstream requests are spread over. httpcore's pool scans every connection for
every queued request, so its CPU cost grows with (queued × open connections); under 200 concurrent
streams one pool spent about a third of the server's CPU there. Eight pools cut that scan 64-fold."""


def _pooled_client() -> httpx.AsyncClient:
    # Keep-alive for every connection we may open: httpcore closes idle connections beyond the limit.
    return httpx.AsyncClient(limits=httpx.Limits(max_connections=250, max_keepalive_connections=250))


def create_app(config: ServerConfig, *, http_client: httpx.AsyncClient | None = None) -> FastAPI:
    """Build the OpenAI-compatible routing server for `config`.

    Routers are loaded and the upstream and client keys read here, so a bad configuration fails now,
    not at the first request.

    Args:
        config: the validated configuration (see `load_config`).
        http_client: the client for upstream calls; by default the app opens one in its lifespan and
            closes it on shutdown (an injected client is left open for its owner).

    Raises:
        ConfigError: for a router whose candidates are not mapped, or an unset key variable.
    """
    from routerkit import __version__

    metrics = ServerMetrics()
    table = RouteTable(config)
    upstreams = Upstreams(config.models, metrics)
    if http_client is not None:  # now, not in the lifespan: an in-process ASGI transport never runs it
        upstreams.clients = [http_client]
    chat = ChatService(table, upstreams, metrics)
    keys = client_keys(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = [] if http_client is not None else [_pooled_client() for _ in range(CLIENT_SHARDS)]
        if owned:
            upstreams.clients = owned
        try:
            await _warm_up(table)
            yield
        finally:
            for client in owned:
                await client.aclose()

    app = FastAPI(title="routerkit", version=__version__, lifespan=lifespan)
    _add_error_handlers(app)

    @app.post(CHAT_PATH, response_model=None)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        """Route the request, then relay the chosen upstream's answer (JSON or server-sent events)."""
        exchange = exchange_of(request.scope) or Exchange(metrics, request_id_of(request.scope))
        return await chat.handle(body, exchange, request.is_disconnected)

    @app.get("/v1/models")
    async def list_models() -> dict[str, object]:
        """The values `model` accepts: named routes, routers, and `router-<router>-<threshold>`."""
        return _models_listing(config, table)

    @app.get("/health")
    async def health() -> dict[str, object]:
        """Liveness: `{"status": "ok", ...}` (no key needed)."""
        return {"status": "ok", "version": __version__, "routers": list(table.routers), "models": list(config.models)}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> PlainTextResponse:
        """Prometheus text exposition format."""
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.add_middleware(BodyLimit, max_bytes=config.limits.max_body_bytes)
    if keys:
        app.add_middleware(ApiKeyGuard, keys=keys)  # runs before the size limit: no key, no body read
    app.add_middleware(RecordRequests, metrics=metrics)  # added last, so it runs first and sees every answer
    return app


async def _warm_up(table: RouteTable) -> None:
    """Score once with every router: the first call opens the ONNX sessions, which should not delay a request.

    Raises:
        RoutingError: naming the router whose warm-up call failed.
    """
    for name, router in table.routers.items():
        try:
            await anyio.to_thread.run_sync(router.scores, ["warm up"])
        except Exception as exc:
            raise RoutingError(
                f"Router {name!r} failed its warm-up call at startup: {type(exc).__name__}: {exc}. "
                f"Check `load` and `options` under `routers.{name}` in the config."
            ) from exc


def client_keys(config: ServerConfig) -> list[str]:
    """The client API keys from `auth.api_keys_env` (empty when auth is not configured).

    Raises:
        ConfigError: if `auth.api_keys_env` names a variable that is unset or holds no key.
    """
    variable = config.auth.api_keys_env
    if variable is None:
        return []
    keys = [k.strip() for k in (named_variable(variable) or "").split(",") if k.strip()]
    if not keys:
        raise ConfigError(
            f"`auth.api_keys_env` names the environment variable {variable!r}, which is unset or empty. "
            "Set it to comma-separated client keys, or remove `auth` to run without keys (loopback only)."
        )
    return keys


def _models_listing(config: ServerConfig, table: RouteTable) -> dict[str, object]:
    def entry(model_id: str, description: str) -> dict[str, object]:
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "routerkit", "description": description}

    data = [
        entry(name, f"route: router {route.router!r}, " + _policy_text(route.threshold))
        for name, route in config.routes.items()
    ]
    for name, router in table.routers.items():
        mapping = ", ".join(f"{c} -> {m}" for c, m in config.routers[name].models.items())
        data.append(entry(name, f"router {name!r} ({router.name}) with its default policy; candidates {mapping}"))
    for name, router in table.routers.items():
        if router.pairwise:
            data.append(
                entry(
                    table.example_routellm_name(name),
                    f"RouteLLM form `router-{name}-<threshold>`: the strong model iff P(strong wins) >= "
                    "threshold, a number in [0, 1] (higher sends fewer requests to the strong model)",
                )
            )
    return {"object": "list", "data": data}


def _policy_text(threshold: float | None) -> str:
    return "its default policy" if threshold is None else f"threshold {threshold:g}"


def _add_error_handlers(app: FastAPI) -> None:
    """Every error, FastAPI's own and unexpected exceptions included, answers with OpenAI's error body."""

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # registered for this type only
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return openai_error(400, "The request body is not valid JSON.", code="invalid_json")
        first = errors[0] if errors else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        problems = "; ".join(_describe(e) for e in errors[:5])
        return openai_error(400, f"Invalid request: {problems}", code="invalid_request", param=param)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # registered for this type only
        headers = dict(exc.headers or {})
        return openai_error(exc.status_code, str(exc.detail), code=f"http_{exc.status_code}", headers=headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette calls this for any exception nothing else handled, then re-raises it to the server.
        request_id = request_id_of(request.scope)
        fields = {"request_id": request_id, "method": request.method, "path": request.url.path}
        trace = "".join(traceback.format_exception(exc))
        log_event("unhandled_error", {**fields, "error": type(exc).__name__, "traceback": trace}, level=logging.ERROR)
        message = "The server failed unexpectedly. The error is in its log under this request's `x-request-id`."
        return openai_error(500, message, code="internal_error", headers={"x-request-id": request_id})

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_error)


def _describe(error: object) -> str:
    if not isinstance(error, dict):
        return str(error)
    where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
    return f"`{where}`: {error.get('msg', 'invalid')}"
