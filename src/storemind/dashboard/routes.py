"""Dashboard routes: overview, one page per capability, and the local static files."""
from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from storemind import __version__
from storemind.dashboard import _overview
from storemind.dashboard._charts import plotly_js_path
from storemind.errors import DataError, NotFittedError, NotFoundError

__all__ = ["install_dashboard", "CAPABILITY_INFO"]

log = logging.getLogger("storemind.dashboard")
HERE = Path(__file__).parent

#: title and one-line description of each capability, in navigation order
CAPABILITY_INFO: dict[str, tuple[str, str]] = {
    "recommend": ("Recommendations", "Personalised top-N, similar items, bought together."),
    "customers": ("Customers", "Profiles, RFM segments and lifetime value."),
    "behavior": ("Behaviour", "Purchase propensity, churn risk, next action, funnels."),
    "marketing": ("Marketing", "Who to target with which offer; campaign plans."),
    "operations": ("Operations", "Demand forecasts and reorder points."),
    "assistant": ("Assistant", "Customer-service answers and semantic product search."),
    "risk": ("Risk", "Fraud scores, reasons and the alert queue."),
    "experiments": ("Experiments", "A/B assignment and analysis."),
}

#: Capabilities with no model to train: they analyse the store on each request, so the pages
#: must not tell anyone to run `storemind train` for them (it has nothing to train).
MODEL_FREE = frozenset({"experiments"})


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _template_dirs() -> list[str]:
    dirs = [str(HERE / "templates")]
    for cap in CAPABILITY_INFO:
        spec = None
        try:
            spec = importlib.util.find_spec(f"storemind.{cap}")
        except ModuleNotFoundError:
            pass
        for loc in (spec.submodule_search_locations or []) if spec else []:
            if (Path(loc) / "templates").is_dir():
                dirs.append(str(Path(loc) / "templates"))
    return dirs


def _nav(request: Request) -> list[dict[str, Any]]:
    registry = request.app.state.registry
    out = []
    for cap, (title, _) in CAPABILITY_INFO.items():
        trained = registry.current_version(cap) is not None or (
            cap in MODEL_FREE and _exists(f"storemind.{cap}.pipeline"))
        out.append({"name": cap, "title": title, "trained": trained,
                    "present": trained or _exists(f"storemind.{cap}.pipeline")})
    return out


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200):
    templates: Jinja2Templates = request.app.state.templates
    base = {"nav": _nav(request), "version": __version__, "active": None}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """Tables, date ranges, quarantine and events per day."""
    store, registry = request.app.state.store, request.app.state.registry
    chart, chart_note = _overview.events_chart(store)
    return _render(request, "overview.html", {
        "title": "Overview",
        "tables": _overview.table_rows(store),
        "quarantine": _overview.quarantine_rows(store),
        "chart": chart,
        "chart_note": chart_note,
        "model_free": MODEL_FREE,
        "models": _overview.model_rows(
            registry, list(CAPABILITY_INFO),
            present={c for c in CAPABILITY_INFO if _exists(f"storemind.{c}.pipeline")},
        ),
    })


@router.get("/dashboard/quarantine.csv")
def quarantine_csv(request: Request, table: str | None = None,
                   source: str | None = None) -> Response:
    """The quarantined rows (of one table and/or source) as CSV, as `storemind export
    quarantine` writes them: to fix and ingest again."""
    rows = request.app.state.store.quarantined(table, source)
    name = "quarantine" + (f"-{table}" if table else "") + ".csv"
    return Response(rows.to_csv(index=False), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/dashboard/{cap}", response_class=HTMLResponse)
def capability_page(cap: str, request: Request) -> HTMLResponse:
    """A capability's own page, or what to do before it has one."""
    return _capability(cap, request, None)


@router.get("/dashboard/{cap}/{sub}", response_class=HTMLResponse)
def capability_subpage(cap: str, sub: str, request: Request) -> HTMLResponse:
    """A further page of a capability (``SUBPAGES[sub]`` of its dashboard module)."""
    return _capability(cap, request, sub)


def _capability(cap: str, request: Request, sub: str | None) -> HTMLResponse:
    if cap not in CAPABILITY_INFO:
        return _render(request, "message.html", {
            "title": "Not found",
            "message": f"There is no capability {cap!r}; the capabilities are "
                       f"{', '.join(CAPABILITY_INFO)}.",
        }, status=404)
    title, blurb = CAPABILITY_INFO[cap]
    registry = request.app.state.registry
    version = registry.current_version(cap)
    context: dict[str, Any] = {
        "title": title, "active": cap, "cap": cap, "blurb": blurb,
        "has_pipeline": _exists(f"storemind.{cap}.pipeline"),
        "trainable": cap not in MODEL_FREE,
        "model": _overview.model_rows(registry, [cap])[0] if version else None,
        "problem": None,
    }
    if _exists(f"storemind.{cap}.dashboard"):
        try:
            module = importlib.import_module(f"storemind.{cap}.dashboard")
            page = module.page if sub is None else getattr(module, "SUBPAGES", {}).get(sub)
            if page is None:
                return _render(request, "message.html", {
                    "title": "Not found", "active": cap,
                    "message": f"{title} has no page {sub!r}.",
                }, status=404)
            name, extra = page(request, request.app.state.store, registry)
            return _render(request, name, {**context, **extra})
        except (NotFittedError, NotFoundError) as exc:
            context["problem"] = str(exc)
        except DataError as exc:  # a query value the page cannot use (an unknown item, say)
            context["problem"] = str(exc)
            return _render(request, "capability.html", context, status=422)
        except Exception as exc:  # a broken page says so and leaves the rest of the site up
            log.error("dashboard page %s failed", cap, exc_info=exc)
            context["problem"] = f"this page failed: {type(exc).__name__}: {exc}"
            return _render(request, "capability.html", context, status=500)
    return _render(request, "capability.html", context)


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package."""
    return FileResponse(plotly_js_path(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The icon browsers ask for on their own (an SVG; every current browser takes it)."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard routes and static files to ``app``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_template_dirs()),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    app.state.templates = Jinja2Templates(env=env)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
