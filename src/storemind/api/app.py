"""The app factory: one process serves the HTTP API (``/v1``), OpenAPI (``/docs``) and the
dashboard (``/``)."""
from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi

from storemind import __version__
from storemind.api.admin import router as admin_router
from storemind.api.auth import WRITE_METHODS
from storemind.api.errors import install_error_handlers
from storemind.api.events import router as events_router
from storemind.api.guard import GuardMiddleware
from storemind.api.models import ErrorBody, EventBatch, EventIn, Health
from storemind.config import Settings
from storemind.registry import Registry
from storemind.store import Store

__all__ = ["create_app", "CAPABILITIES"]

log = logging.getLogger("storemind.api")

CAPABILITIES = (
    "recommend", "customers", "behavior", "marketing", "operations", "assistant", "risk",
    "experiments",
)


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the capability package itself is absent
        return False


def _include_capabilities(app: FastAPI, names: Iterable[str]) -> dict[str, str]:
    """Include ``storemind.<cap>.api.router`` under ``/v1`` for each capability present,
    and call its optional ``setup(app)`` hook. A module that fails to import is logged and
    reported in ``/health`` rather than taking the whole server down."""
    status: dict[str, str] = {}
    for cap in names:
        if not _find(f"storemind.{cap}.api"):
            continue
        try:
            module = importlib.import_module(f"storemind.{cap}.api")
            router = getattr(module, "router", None)
            if not isinstance(router, APIRouter):
                raise TypeError(f"storemind.{cap}.api has no APIRouter named `router`")
            app.include_router(router, prefix="/v1", tags=[] if router.tags else [cap])
            setup = getattr(module, "setup", None)
            if callable(setup):
                setup(app)
            status[cap] = "ok"
        except Exception as exc:
            log.error("capability %s: API not loaded", cap, exc_info=exc)
            status[cap] = f"error: {type(exc).__name__}: {exc}"[:300]
    return status


def _one_blas_thread() -> None:
    """A server answers one small request at a time per worker: multi-threaded BLAS gains
    nothing there, and its threads spin after each call, starving torch's (the assistant's
    MiniLM went from 15 to 100 ms per query on 2 cores with both at 2 threads; see
    docs/decisions.md)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except Exception as exc:  # an optimisation only
        log.warning("could not limit BLAS threads: %s", exc)


def _quietly(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # an optimisation only: appends build it themselves if needed
        log.warning("could not prepare %s: %s", getattr(fn, "__name__", fn), exc)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """OpenAPI with the event models and the API-key scheme on every write."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in (EventIn, EventBatch, ErrorBody):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(js.pop("$defs", {}))
        schemas[model.__name__] = js
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            if method.upper() in WRITE_METHODS:
                op["security"] = [{"ApiKey": []}, {"Bearer": []}]
            _error_responses(path, method.upper(), op)
    if "HTTPValidationError" in schemas and "HTTPValidationError" not in str(schema["paths"]):
        schemas.pop("HTTPValidationError")
        schemas.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


_ERRORS = {
    "400": "The body could not be read (not JSON or not UTF-8).",
    "401": "No API key, or one not accepted (every write needs one).",
    "404": "An unknown id, or the capability is not trained yet; `message` says which.",
    "413": "The body or the batch is larger than the server's limit.",
    "422": "A field is invalid or missing; `detail` names each one and why.",
}


def _error_responses(path: str, method: str, op: dict[str, Any]) -> None:
    """Document the errors a route can answer, each with :class:`ErrorBody`, the body every
    error has (FastAPI's default 422 schema, with ``loc``, is not what the handlers send)."""
    codes = set()
    if op.get("parameters") or op.get("requestBody"):
        codes.add("422")
    if op.get("requestBody"):
        codes |= {"400", "413"}
    if method in WRITE_METHODS:
        codes |= {"401", "413"}
    if path.startswith("/v1/"):
        codes.add("404")
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    responses = op.setdefault("responses", {})
    for code in sorted(codes):
        responses[code] = {"description": _ERRORS[code], "content": ref}


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    *,
    capabilities: Iterable[str] | None = None,
) -> FastAPI:
    """Build the storemind app.

    Parameters
    ----------
    settings : Settings, optional
        Service settings; ``Settings()`` from ``STOREMIND_*`` variables when not given.
    store : Store, optional
        The store to serve; by default the DuckDB file under ``settings.home`` is opened
        (and closed when the app shuts down).
    capabilities : iterable of str, optional
        Which capability routers to include (default: every one installed).

    Returns
    -------
    FastAPI
        ``app.state`` holds ``settings``, ``store``, ``registry``, ``observers`` (callables
        given each batch of new events) and ``capabilities`` (name -> load status).
    """
    settings = settings or Settings()
    owned = store is None
    if store is None:
        store = Store.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _one_blas_thread()
        prepare = getattr(store, "prepare_appends", None)
        if prepare is not None:  # the live-write key filter, built off the request path
            threading.Thread(target=_quietly, args=(prepare, "events"), daemon=True,
                             name="storemind-prepare-appends").start()
        yield
        if owned:
            store.close()

    app = FastAPI(
        title="storemind",
        version=__version__,
        description="An AI engine for online stores. Reads are open; every write needs an "
        "API key (`X-API-Key` or `Authorization: Bearer`).",
        lifespan=lifespan,
        docs_url=None,  # served below from the packaged Swagger UI, so /docs works offline
    )
    _install_offline_docs(app)
    app.state.settings = settings
    app.state.store = store
    app.state.registry = Registry(settings.models_path)
    app.state.observers = []
    app.add_middleware(GuardMiddleware, settings_of=lambda: app.state.settings)
    install_error_handlers(app)

    @app.get("/health", response_model=Health, tags=["service"])
    def health(request: Request) -> Health:
        """Service status, version, rows per table and loaded capabilities."""
        caps = request.app.state.capabilities
        return Health(
            status="ok" if all(v == "ok" for v in caps.values()) else "degraded",
            version=__version__,
            engine=request.app.state.store.engine,
            tables=request.app.state.store.counts(),
            capabilities=caps,
        )

    app.include_router(events_router, prefix="/v1")
    app.include_router(admin_router, prefix="/v1")
    app.state.capabilities = _include_capabilities(
        app, CAPABILITIES if capabilities is None else capabilities
    )

    from storemind.dashboard import install_dashboard

    install_dashboard(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _install_offline_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the ``swagger-ui-bundle`` package: no CDN."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="storemind API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )
