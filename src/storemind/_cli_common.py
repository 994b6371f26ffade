"""What every ``storemind`` command shares: the consoles, the common options, settings, opening
the store, the engine to compute features on, and turning storemind's errors into one red line
(``cli`` and the sub-apps in ``_cli_*`` modules use them)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from storemind.config import Settings
from storemind.errors import StoremindError

__all__ = ["console", "err", "HomeOpt", "ServerOpt", "EngineOpt", "settings_for", "on_engine",
           "open_store", "friendly", "fail"]

console = Console()
err = Console(stderr=True, soft_wrap=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Store folder (default: $STOREMIND_HOME or ./storemind-home)."),
]
ServerOpt = Annotated[
    str | None,
    typer.Option(help="Server holding the store (default: http://$STOREMIND_HOST:PORT)."),
]


EngineOpt = Annotated[str | None, typer.Option(
    help="Where features are computed: duckdb (default), or Spark: local[N], "
         "spark://host:port ($STOREMIND_ENGINE).")]


def settings_for(home: Path | None, engine: str | None = None) -> Settings:
    if engine is not None:
        os.environ["STOREMIND_ENGINE"] = engine
    if home is not None:
        os.environ["STOREMIND_HOME"] = str(home)
    try:
        return Settings()
    except Exception as exc:  # pydantic's validation error, shown plainly
        raise StoremindError(f"invalid settings: {exc}") from exc


def on_engine(store: Any, settings: Settings) -> Any:
    """``store`` itself, or its tables in Spark when ``settings.engine`` says so (features
    computed there, models fitted here; docs/store.md)."""
    if settings.engine == "duckdb":
        return store
    from storemind.store import SparkStore

    console.print(f"computing features on Spark ({settings.engine}); the tables go as Parquet")
    return SparkStore.for_engine(store, settings.engine)


def open_store(settings: Settings, read_only: bool = False):
    from storemind.store import Store

    return Store.open(settings, read_only=read_only)


def friendly(func):
    """Turn storemind's own errors into one red line and exit status 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StoremindError as exc:
            raise fail(str(exc)) from None

    return wrapper


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)
