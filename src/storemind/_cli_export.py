"""``storemind export``: results for other tools (segments for a marketing tool,
recommendations for a campaign or a feed, the quarantine to fix and ingest again)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storemind._cli_common import HomeOpt, console, friendly, open_store, settings_for
from storemind._remote import store_or_snapshot

__all__ = ["export_app"]

export_app = typer.Typer(help="Export results for other tools.", no_args_is_help=True)


@export_app.command("segments")
@friendly
def export_segments(
    path: Annotated[Path, typer.Argument(help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or jsonl.")] = "csv",
    home: HomeOpt = None,
) -> None:
    """Every customer's segment, cluster and value, for a marketing tool."""
    from storemind.customers.pipeline import export_segments as write
    from storemind.registry import Registry

    settings = settings_for(home)
    store = store_or_snapshot(settings, None)
    try:
        out = write(store, Registry(settings.models_path), path, fmt=fmt)
    finally:
        store.close()
    console.print(f"wrote {out}")


@export_app.command("recommendations")
@friendly
def export_recommendations(
    path: Annotated[Path, typer.Argument(help="File to write (.csv, .parquet or .jsonl).")],
    k: Annotated[int, typer.Option(help="Items per customer.")] = 10,
    users: Annotated[Path | None, typer.Option(
        help="Only these customers: a CSV with a user_id column, or one id per line "
             "(default: every customer the model knows).")] = None,
    category: Annotated[str | None, typer.Option(help="Only items of this category.")] = None,
    max_price: Annotated[float | None, typer.Option(help="Only items up to this price.")] = None,
    home: HomeOpt = None,
) -> None:
    """Top-k recommendations with reasons for many customers, one row per customer and rank:
    the lists the API would answer now, for an e-mail campaign or a platform's feed."""
    from rich.progress import Progress

    from storemind._files import write_frame
    from storemind.recommend.batch import read_user_ids, recommend_many
    from storemind.registry import Registry

    settings = settings_for(home)
    ids = read_user_ids(users) if users is not None else None
    store = store_or_snapshot(settings, None)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("recommending", total=len(ids) if ids is not None else None)
            rows = recommend_many(Registry(settings.models_path), ids, k=k, store=store,
                                  category=category, max_price=max_price,
                                  step=lambda n: bar.update(task, completed=n))
    finally:
        store.close()
    write_frame(rows, path)
    console.print(f"wrote {len(rows):,} recommendations for {rows.user_id.nunique():,} "
                  f"customers to {path}")


@export_app.command("quarantine")
@friendly
def export_quarantine(
    path: Annotated[Path, typer.Argument(help="File to write (.csv, .parquet or .jsonl).")],
    table: Annotated[str | None, typer.Option(help="Only rows meant for this table.")] = None,
    source: Annotated[str | None, typer.Option(help="Only rows from this file.")] = None,
    clear: Annotated[bool, typer.Option(
        help="Delete the exported rows from the quarantine afterwards.")] = False,
    home: HomeOpt = None,
) -> None:
    """The quarantined rows with where each came from and why, its fields as the file wrote
    them: fix them and ingest the file again (its quarantine_* columns are skipped)."""
    from storemind._files import write_frame

    store = open_store(settings_for(home))
    try:
        rows = store.quarantined(table, source)
        write_frame(rows, path, text_from=5)  # the fields as the file wrote them: text
        cleared = store.clear_quarantine(table, source) if clear and len(rows) else 0
    finally:
        store.close()
    console.print(f"wrote {len(rows):,} quarantined rows to {path}"
                  + (f"; {cleared:,} cleared from the quarantine" if clear else ""))
