"""The FastAPI application: data endpoints under ``/v1``, ``/metrics``, the dashboard at ``/``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST

from aggregator.api.auth import researcher
from aggregator.api.config import ApiConfig
from aggregator.api.context import ApiContext
from aggregator.api.errors import (
    NotFoundError,
    ParameterError,
    UnavailableError,
    error_responses,
)
from aggregator.api.routes import admin, car, devices, proofs, series, shadow
from aggregator.api.sources import ApiSources
from aggregator.api.sta import router as sta_router
from aggregator.errors import AggregatorError, AggregatorValueError
from aggregator.series.base import SeriesUnavailableError
from fieldproof import __version__

STATIC_DIR = Path(__file__).parent / "static"


def _error(status: int, message: str, parameter: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"detail": message}
    if parameter is not None:
        body["parameter"] = parameter
    return JSONResponse(body, status_code=status)


def _install_handlers(app: FastAPI) -> None:
    async def parameter(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ParameterError)
        return _error(400, str(exc), exc.parameter)

    async def invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        messages = []
        first: str | None = None
        for error in exc.errors():
            loc = [
                str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")
            ]
            name = ".".join(loc) or "request"
            first = first or name
            messages.append(f"{name}: {error.get('msg', 'invalid')}")
        return _error(422, "; ".join(messages), first)

    async def not_found(_: Request, exc: Exception) -> Response:
        return _error(404, str(exc))

    async def unavailable(_: Request, exc: Exception) -> Response:
        return _error(503, str(exc))

    async def bad_value(_: Request, exc: Exception) -> Response:
        return _error(400, str(exc))

    async def failed(_: Request, exc: Exception) -> Response:
        # A backend answered with an error (e.g. InfluxDB refused a query).
        return _error(502, str(exc))

    app.add_exception_handler(ParameterError, parameter)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(UnavailableError, unavailable)
    app.add_exception_handler(SeriesUnavailableError, unavailable)
    app.add_exception_handler(AggregatorValueError, bad_value)
    app.add_exception_handler(AggregatorError, failed)


def _gauges(context: ApiContext) -> dict[str, tuple[str, list[tuple[dict[str, str], float]]]]:
    ledger = context.sources.ledger
    states = context.directory.states()
    return {
        "fieldproof_ledger_reports": ("Reports in the ledger.", [({}, ledger.count_reports())]),
        "fieldproof_devices": (
            "Known devices by state.",
            [({"state": state}, states.count(state)) for state in sorted(set(states))],
        ),
        "fieldproof_dead_letters": (
            "Refused messages by reason.",
            [({"reason": r}, n) for r, n in sorted(ledger.dead_letter_counts().items())],
        ),
    }


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files the swagger-ui-py package ships (Swagger UI 5,
    Apache-2.0), so the docs work without internet access."""
    import swagger_ui  # type: ignore[import-untyped]  # ships no type information
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount(
        "/docs-assets",
        StaticFiles(directory=Path(swagger_ui.__file__).parent / "static"),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def create_app(sources: ApiSources, config: ApiConfig | None = None) -> FastAPI:
    """The API over ``sources`` (read-only); mount it or serve it with :class:`ApiServer`."""
    config = config or ApiConfig()  # type: ignore[call-arg]
    context = ApiContext.build(sources, config)
    app = FastAPI(
        # The stock docs pages load their scripts from a CDN; ours are served locally.
        docs_url=None,
        redoc_url=None,
        title="fieldproof aggregator API",
        version=__version__,
        description="Environmental and traffic series from signed device reports, with "
        "Merkle proofs anchored on-chain and owners' rewards. Lists take `limit` (capped) "
        "and `offset`; API keys go in `X-API-Key`.",
    )
    app.state.context = context
    _install_handlers(app)

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route's template, not the raw path, keeps the label set small.
        name = getattr(route, "path", "unmatched")
        context.metrics.observe(
            name, request.method, response.status_code, time.perf_counter() - began
        )
        return response

    for module in (devices, series, proofs, car, shadow, admin):
        app.include_router(module.router)

    # SensorThings API: same keys and limits; kept out of the OpenAPI document (see sta).
    app.include_router(sta_router)

    context.metrics.gauges = lambda: _gauges(context)

    # /metrics and /v1/info take keys and rate limits like every data endpoint.
    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(researcher)])
    def metrics() -> Response:
        return Response(context.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/v1/info",
        tags=["info"],
        summary="What this API serves",
        dependencies=[Depends(researcher)],
        responses=error_responses(),
    )
    def info() -> dict[str, object]:
        return {
            "version": __version__,
            "require_keys": config.require_keys,
            "max_limit": config.max_limit,
            "epochs": sources.anchors is not None,
            "chain": sources.chain is not None,
            # The dashboard map's base layer: tile_url null means no tiles (offline).
            "map": config.map.model_dump(),
        }

    _mount_docs(app)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
