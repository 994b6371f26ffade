"""The ``storemind`` command: init, ingest, train, evaluate, serve, demo, status.

Every command works on the store under ``STOREMIND_HOME`` (``--home`` overrides it). Each
capability that exists plugs in through ``storemind.<capability>.pipeline`` with
``train(store, registry, settings) -> ModelVersion`` and optionally
``evaluate(store, settings) -> dict``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from storemind._cli_common import EngineOpt, HomeOpt, ServerOpt, console, err
from storemind._cli_common import fail as _fail
from storemind._cli_common import friendly as _friendly
from storemind._cli_common import on_engine as _on_engine
from storemind._cli_common import open_store as _store
from storemind._cli_common import settings_for as _settings
from storemind._cli_export import export_app
from storemind._files import files_named as _files_named
from storemind._remote import ingest_through_server as _ingest_through_server
from storemind._remote import server_url as _server_url
from storemind._remote import store_or_snapshot as _store_or_snapshot
from storemind.config import Settings
from storemind.errors import StoremindError

__all__ = ["app", "main", "CAPABILITIES", "available_capabilities"]

CAPABILITIES = (
    "recommend",
    "customers",
    "behavior",
    "marketing",
    "operations",
    "assistant",
    "risk",
    "experiments",
)

app = typer.Typer(
    name="storemind",
    help="storemind: an AI engine for online stores. Point it at your logs; get recommendations, "
    "segments, forecasts, fraud scores and more.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(export_app, name="export")
def _wanted(capabilities: list[str] | None) -> list[str]:
    """The capabilities asked for (default: every installed one); exit 2 on an unknown one."""
    have = available_capabilities()
    unknown = [c for c in capabilities or () if c not in have]
    if unknown:
        raise _fail(f"unknown or not installed capability {unknown}; available: {have}", 2)
    return capabilities or have


def _metrics_text(metrics: dict[str, Any], n: int) -> str:
    """The first ``n`` metrics as ``name=value`` (floats to 4 significant digits)."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in list(metrics.items())[:n])


def available_capabilities() -> list[str]:
    """Capabilities whose ``pipeline`` module exists and has ``train``."""
    out = []
    for cap in CAPABILITIES:
        try:
            if importlib.util.find_spec(f"storemind.{cap}.pipeline") is None:
                continue
        except ModuleNotFoundError:
            continue
        if hasattr(importlib.import_module(f"storemind.{cap}.pipeline"), "train"):
            out.append(cap)
    return out


@app.command()
@_friendly
def init(
    home: HomeOpt = None,
    force: Annotated[bool, typer.Option(help="Empty every table of an existing store.")] = False,
) -> None:
    """Create an empty store (DuckDB file and model registry) under the home folder."""
    settings = _settings(home)
    store = _store(settings)
    if force:
        for name in [*store.tables, "quarantine"]:
            store.clear(name)
    settings.models_path.mkdir(parents=True, exist_ok=True)
    console.print(f"store ready at [bold]{settings.db_path}[/] ({len(store.tables)} tables)")
    store.close()


def _parse_mapping(pairs: list[str], flag: str = "--map") -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise StoremindError(f"{flag} takes NAME=VALUE; got {pair!r}")
        theirs, ours = (part.strip() for part in pair.split("=", 1))
        if theirs in mapping and mapping[theirs] != ours:  # the last would silently win
            raise StoremindError(f"{flag} gives {theirs} twice: {theirs}={mapping[theirs]} "
                                 f"and {pair}")
        mapping[theirs] = ours
    return mapping


def _print_report(report: Any) -> None:
    colour = "green" if report.quarantined == 0 else "yellow"
    console.print(
        f"[bold]{report.table}[/] <- {report.source}: read {report.read:,} = "
        f"[green]stored {report.stored:,}[/] + duplicates {report.duplicates:,} + "
        f"[{colour}]quarantined {report.quarantined:,}[/]"
    )
    for reason, n in report.reasons.most_common(8):
        console.print(f"    quarantined {n:,}: {reason}")
    if report.ignored_columns:
        console.print(
            f"    columns not in {report.table}, ignored: {', '.join(report.ignored_columns)}"
        )


@app.command()
@_friendly
def ingest(
    table: Annotated[str | None, typer.Argument(
        help="Canonical table, e.g. events; or order_lines (an order-lines export: fills "
             "orders, order_items, events, items and users).")] = None,
    file: Annotated[Path | None, typer.Argument(
        help="CSV, Parquet or JSONL file (.gz ok); or a folder of them, or a pattern such "
             "as 'exports/orders-*.csv' (quoted): each file in turn, in name order.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Load a public dataset by name instead.")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename a column: THEIR_COLUMN=OUR_COLUMN (repeatable)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Fill an absent or blank column: COLUMN=VALUE (repeatable)."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter.")] = None,
    time_format: Annotated[str | None, typer.Option(
        help="How the file writes times, in strptime codes, e.g. '%m/%d/%Y %H:%M' "
             "(ISO times and Unix seconds are read without it).")] = None,
    decimal: Annotated[str | None, typer.Option(
        help="The file's decimal separator, . or , (without it a number's form decides: "
             "2,55 and 1,234.50 are read, 1,234 is quarantined as ambiguous).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="A CSV file's encoding: utf-8, utf-16 or latin-1 (default: detected).")] = None,
    check: Annotated[bool, typer.Option(
        help="Check only: report what would be stored and quarantined; store nothing.")] = False,
    home: HomeOpt = None,
    server: ServerOpt = None,
) -> None:
    """Validate and store a file into a table, or a public dataset into every table it fills.

    Prints rows read = stored + duplicates + quarantined. Exits non-zero only when a file
    cannot be read at all or no row of it could be stored (the other files of a folder or
    pattern are still ingested). While a server holds the store, the file goes to the
    server's inbox and the server ingests it. An order-lines export goes in as table
    order_lines: it fills orders, order_items, events, items and users.
    """
    settings = _settings(home)
    if dataset is None and (table is None or file is None):
        raise _fail("give TABLE FILE, or --dataset NAME (see `storemind ingest --help`)", 2)
    if dataset is not None and check:
        raise _fail("--check is for files; a public dataset is checked as it loads", 2)
    from storemind.errors import StoreLockedError

    options = dict(mapping=_parse_mapping(map_ or []), delimiter=delimiter,
                   defaults=_parse_mapping(set_ or [], "--set"), time_format=time_format,
                   decimal=decimal, encoding=encoding, dry_run=check)
    try:
        store = _store(settings)
    except StoreLockedError:
        if dataset is not None:
            raise StoremindError(
                f"the store {settings.db_path} is held by a running server; stop it to load "
                f"the dataset {dataset!r} (a file can be ingested while it runs)") from None
        assert table is not None and file is not None
        _ingest_files(table, _files_named(file, fmt), lambda f: _ingest_through_server(
            settings, server, table, f, format=fmt, **options), check)
        return
    try:
        if dataset is not None:
            from storemind.datasets import load_dataset

            reports = load_dataset(dataset, store, data_dir=settings.data)
            for report in reports.values():
                _print_report(report)
            if not any(r.ok for r in reports.values()):
                raise _fail(f"nothing from dataset {dataset!r} could be stored")
            return
        assert table is not None and file is not None

        def one(f: Path) -> Any:
            big = f.exists() and f.stat().st_size > 50_000_000
            return store.ingest(table, f, fmt=fmt, progress=big and sys.stderr.isatty(),
                                **options)

        _ingest_files(table, _files_named(file, fmt), one, check)
    finally:
        store.close()


def _ingest_files(table: str, files: list[Path], ingest_one: Any, check: bool = False) -> None:
    """Ingest each file in turn (``storemind._files.ingest_each``), reports printed; with
    several, a total follows and the command fails when any file failed."""
    from storemind._files import ingest_each

    total, failed = ingest_each(table, files, ingest_one, _print_report,
                                lambda message: err.print(f"[bold red]error:[/] {message}"))
    if len(files) > 1:
        _print_report(total)
    if check:
        console.print("[bold]checked only (--check): nothing was stored or quarantined[/]")
    elif total.quarantined:
        console.print(f"[dim]to see and fix the quarantined rows: storemind export quarantine "
                      f"bad.csv --table {table}[/]")
    if failed:
        raise _fail(f"{len(failed)} of {len(files)} files could not be stored: "
                    f"{', '.join(failed)}")


@app.command()
@_friendly
def train(
    capabilities: Annotated[
        list[str] | None,
        typer.Argument(help="Capabilities to train (default: every one installed)."),
    ] = None,
    engine: EngineOpt = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
) -> None:
    """Train capabilities from the store and register new model versions.

    When a running server holds the store, training asks it for a snapshot and trains from
    that; the server switches to the new versions without a restart.
    """
    settings = _settings(home, engine)
    wanted = _wanted(capabilities)
    if not wanted:
        console.print("no capability is installed yet; nothing to train")
        return
    from storemind.registry import Registry

    source = _store_or_snapshot(settings, server)
    store = _on_engine(source, settings)
    registry = Registry(settings.models_path)
    table = Table("capability", "version", "seconds", "metrics", title="trained")
    failed = []
    try:
        for cap in wanted:
            module = importlib.import_module(f"storemind.{cap}.pipeline")
            start = time.perf_counter()
            console.rule(f"[bold]{cap}")
            try:
                version = module.train(store, registry, settings)
            except StoremindError as exc:
                err.print(f"[red]{cap}: {exc}[/]")
                failed.append(cap)
                continue
            except Exception:  # one capability's bug must not stop the others
                err.print_exception(max_frames=5)
                failed.append(cap)
                continue
            served = (version.params or {}).get("served")  # recommend: the model answering
            table.add_row(cap, version.version, f"{time.perf_counter() - start:.1f}",
                          (f"served={served}, " if served else "")
                          + _metrics_text(version.metrics, 4))
            if settings.keep_versions:
                gone = registry.prune(cap, settings.keep_versions)
                if gone:
                    console.print(f"{cap}: deleted {', '.join(v.version for v in gone)} "
                                  f"(STOREMIND_KEEP_VERSIONS={settings.keep_versions})")
    finally:
        store.close()
        if source is not store:
            source.close()
    console.print(table)
    if failed:
        raise _fail(f"training failed for {failed}")


@app.command()
@_friendly
def evaluate(
    capabilities: Annotated[
        list[str] | None, typer.Argument(help="Capabilities to evaluate.")
    ] = None,
    engine: EngineOpt = None,
    home: HomeOpt = None,
) -> None:
    """Evaluate capabilities on a held-out split of the store and print their metrics.

    When a running server holds the store, evaluation reads a snapshot the server writes.
    """
    settings = _settings(home, engine)
    wanted = _wanted(capabilities)
    source = _store_or_snapshot(settings, None)
    store = _on_engine(source, settings)
    table = Table("capability", "metric", "value", title="evaluation")
    try:
        for cap in wanted:
            module = importlib.import_module(f"storemind.{cap}.pipeline")
            if not hasattr(module, "evaluate"):
                continue
            for key, value in module.evaluate(store, settings).items():
                table.add_row(cap, key, f"{value:.4f}" if isinstance(value, float) else str(value))
    finally:
        store.close()
        if source is not store:
            source.close()
    console.print(table)


def _print_tables(store: Any, settings: Settings) -> None:
    t = Table("table", "rows", "from", "to", title=f"store {settings.db_path}")
    for name, n in store.counts().items():
        lo, hi = store.time_range(name) if name != "quarantine" else (None, None)
        t.add_row(
            name,
            f"{n:,}",
            f"{lo:%Y-%m-%d %H:%M}" if lo else "",
            f"{hi:%Y-%m-%d %H:%M}" if hi else "",
        )
    console.print(t)
    q = store.quarantine_summary()
    if len(q):
        qt = Table("table", "reason", "rows", title="quarantine")
        for row in q.head(15).itertuples():
            qt.add_row(row.table_name, row.reason, f"{row.rows:,}")
        console.print(qt)
        console.print("[dim]the rows themselves: storemind export quarantine bad.csv[/]")


@app.command()
@_friendly
def status(
    home: HomeOpt = None,
    server: ServerOpt = None,
) -> None:
    """Show tables (rows, time range), quarantine reasons and registered models."""
    settings = _settings(home)
    if not settings.db_path.exists():
        raise _fail(f"no store at {settings.db_path}; run `storemind init` first")
    from storemind.errors import StoreLockedError
    from storemind.registry import Registry

    try:
        store = _store(settings, read_only=True)
    except StoreLockedError:  # a running server holds it: its /health counts the rows
        import httpx

        url = _server_url(settings, server)
        try:
            health = httpx.get(f"{url}/health", timeout=30).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise StoremindError(f"the store is held by another process and no server "
                                 f"answered at {url}: {exc}") from exc
        t = Table("table", "rows", title=f"store {settings.db_path}")
        for name, n in health.get("tables", {}).items():
            t.add_row(name, f"{n:,}")
        console.print(t)
        console.print(f"[dim]rows as counted by the server at {url}, which holds the store; "
                      "time ranges and quarantine reasons show when it is stopped[/]")
        store = None
    if store is not None:
        try:
            _print_tables(store, settings)
        finally:
            store.close()
    registry = Registry(settings.models_path)
    m = Table("capability", "current", "versions", "created", title="models")
    for cap in registry.capabilities():
        versions = registry.versions(cap)
        current = registry.current_version(cap) or "-"
        m.add_row(cap, current, str(len(versions)), versions[-1].created_at if versions else "")
    console.print(m)


@app.command()
@_friendly
def serve(
    home: HomeOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
) -> None:
    """Serve the HTTP API and the dashboard from one process."""
    settings = _settings(home)
    _serve(settings, host or settings.host, port or settings.port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from storemind.api import create_app

    if not settings.keys:
        key = secrets.token_urlsafe(18)
        os.environ["STOREMIND_API_KEYS"] = key
        settings = Settings()
        console.print(
            f"no STOREMIND_API_KEYS set; writes accept this key for this run: [bold]{key}[/]"
        )
    console.print(
        f"dashboard: [bold]http://{host}:{port}/[/]   API docs: http://{host}:{port}/docs"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@app.command()
@_friendly
def demo(
    home: HomeOpt = None,
    users: Annotated[int, typer.Option(help="Simulated customers.")] = 3000,
    items: Annotated[int, typer.Option(help="Simulated products.")] = 600,
    days: Annotated[int, typer.Option(help="Simulated days of history.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated store.")] = 0,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after training.")] = False,
    port: Annotated[int | None, typer.Option(help="Port to serve on.")] = None,
) -> None:
    """Build a simulated store, train every capability, print a summary, then serve."""
    settings = _settings(home or Path(os.environ.get("STOREMIND_HOME", "storemind-home")))
    from storemind.datasets import simulate

    store = _store(settings)
    try:
        if store.count("events") == 0:
            console.rule("[bold]building a simulated store")
            truth = simulate(store, n_users=users, n_items=items, n_days=days, seed=seed)
            console.print(truth.summary() if hasattr(truth, "summary") else truth)
        else:
            console.print(f"store at {settings.db_path} already has data; reusing it")
    finally:
        store.close()
    train(capabilities=None, home=settings.home)
    status(home=settings.home)
    if not no_serve:
        _serve(settings, settings.host, port or settings.port)


@app.command()
@_friendly
def ask(
    question: Annotated[str, typer.Argument(help="A shopper's question.")],
    home: HomeOpt = None,
) -> None:
    """Answer a customer-service question from the shop's FAQ and past answers."""
    from storemind.assistant.pipeline import ask as answer
    from storemind.registry import Registry

    settings = _settings(home)
    store = _store_or_snapshot(settings, None)
    try:
        reply = answer(store, Registry(settings.models_path), settings, question)
    finally:
        store.close()
    if reply.handed_off:
        console.print(f"[yellow]handed to a person[/] (confidence {reply.confidence:.2f})")
        if reply.message:
            console.print(reply.message)
        return
    console.print(reply.answer)
    extra = f", intent {reply.intent}" if reply.intent else ""
    console.print(f"[dim]confidence {reply.confidence:.2f}{extra}[/]")


plan_app = typer.Typer(help="Plans: a budgeted campaign (plan --budget N) or a reorder plan "
                       "(plan reorder).")
app.add_typer(plan_app, name="plan")


def _write_plan(frame: Any, out: Path | None, title: str) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
        console.print(f"wrote {len(frame):,} rows to {out}")
        return
    table = Table(*[str(c) for c in frame.columns], title=title)
    for row in frame.head(30).itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
    if len(frame) > 30:
        console.print(f"... {len(frame) - 30:,} more rows (use --out plan.csv)")


@plan_app.callback(invoke_without_command=True)
@_friendly
def plan_campaign(
    ctx: typer.Context,
    budget: Annotated[float | None, typer.Option(help="Campaign budget.")] = None,
    holdout: Annotated[float, typer.Option(help="Share kept as a random holdout.")] = 0.1,
    method: Annotated[str, typer.Option(help="greedy or lp.")] = "greedy",
    out: Annotated[Path | None, typer.Option(help="Write the plan as CSV.")] = None,
    home: HomeOpt = None,
) -> None:
    """Who gets which offer to maximise expected incremental profit within --budget."""
    if ctx.invoked_subcommand is not None:
        return
    if budget is None:
        raise _fail("give --budget N for a campaign plan, or use `storemind plan reorder`", 2)
    from storemind.marketing.pipeline import plan
    from storemind.registry import Registry

    settings = _settings(home)
    store = _store_or_snapshot(settings, None)
    try:
        frame = plan(store, Registry(settings.models_path), settings, budget=budget,
                     holdout=holdout, method=method)
    finally:
        store.close()
    _write_plan(frame, out, "campaign plan")


@plan_app.command("reorder")
@_friendly
def plan_reorder(
    out: Annotated[Path | None, typer.Option(help="Write the plan as CSV.")] = None,
    home: HomeOpt = None,
) -> None:
    """What to order today, how much and why."""
    from storemind.operations.pipeline import reorder_plan
    from storemind.registry import Registry

    settings = _settings(home)
    store = _store_or_snapshot(settings, None)
    try:
        frame = reorder_plan(store, Registry(settings.models_path), settings, only_orders=True)
    finally:
        store.close()
    _write_plan(frame, out, "reorder plan")


experiment_app = typer.Typer(
    help="A/B experiments: analyse results from the store.", no_args_is_help=True
)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("analyze")
@_friendly
def experiment_analyze(
    key: Annotated[str, typer.Argument(help="Experiment (campaign) key.")],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            help="Metric, e.g. events.purchase, orders.total, or num/den for a ratio (repeatable)."
        ),
    ] = None,
    guardrail: Annotated[
        list[str] | None, typer.Option(help="Guardrail metric (repeatable).")
    ] = None,
    covariate: Annotated[
        str | None, typer.Option(help="CUPED covariate, e.g. pre.orders.total.")
    ] = None,
    control: Annotated[str | None, typer.Option(help="Control arm (default: detected).")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    home: HomeOpt = None,
) -> None:
    """Analyse an experiment: lifts with intervals, CUPED, sample-ratio check, BH across metrics."""
    from storemind.experiments.pipeline import analyze

    settings = _settings(home)
    store = _store(settings, read_only=True)
    try:
        report = analyze(
            store,
            key,
            metrics=metric or None,
            guardrails=guardrail or (),
            covariate=covariate,
            control=control,
            alpha=alpha,
        )
    finally:
        store.close()
    typer.echo(str(report))


models_app = typer.Typer(
    help="Registered model versions: list them, roll back, prune old ones.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


RegisteredCaps = Annotated[
    list[str] | None, typer.Argument(help="Capabilities (default: every registered one).")
]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _registry_caps(settings: Settings, capabilities: list[str] | None):
    from storemind.registry import Registry

    registry = Registry(settings.models_path)
    have = registry.capabilities()
    wanted = capabilities or have
    unknown = [c for c in wanted if c not in have]
    if unknown:
        raise _fail(f"no model registered for {unknown} under {settings.models_path}; "
                    f"registered: {have or 'none'}")
    return registry, wanted


@models_app.command("list")
@_friendly
def models_list(
    capabilities: RegisteredCaps = None,
    home: HomeOpt = None,
) -> None:
    """Every registered version: created, size on disk, headline metrics, which is current."""
    registry, wanted = _registry_caps(_settings(home), capabilities)
    t = Table("capability", "version", "current", "created", "size", "metrics",
              title=f"models {registry.root}")
    for cap in wanted:
        current = registry.current_version(cap)
        for v in registry.versions(cap):
            t.add_row(cap, v.version, "*" if v.version == current else "",
                      v.created_at[:16].replace("T", " "),
                      _mib(_size(v.path)), _metrics_text(v.metrics, 3))
    console.print(t)


@models_app.command("rollback")
@_friendly
def models_rollback(
    capability: Annotated[str, typer.Argument(help="Capability to roll back.")],
    version: Annotated[
        str | None, typer.Argument(help="Version to make current (default: the one before).")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Make an earlier version current; a running server switches to it without a restart."""
    registry, _ = _registry_caps(_settings(home), [capability])
    before = registry.current_version(capability)
    mv = registry.rollback(capability, version)
    console.print(f"{capability}: current is now {mv.version} (was {before})")


@models_app.command("prune")
@_friendly
def models_prune(
    capabilities: RegisteredCaps = None,
    keep: Annotated[int, typer.Option(min=1, help="Newest versions to keep per capability.")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    home: HomeOpt = None,
) -> None:
    """Delete all but the newest --keep versions; the current version always stays."""
    registry, wanted = _registry_caps(_settings(home), capabilities)
    freed = 0
    for cap in wanted:
        doomed = registry.prune(cap, keep, dry_run=True)
        size = sum(_size(v.path) for v in doomed)
        if not dry_run:
            registry.prune(cap, keep)
        freed += size
        names = ", ".join(v.version for v in doomed) or "nothing"
        console.print(f"{cap}: {'would delete' if dry_run else 'deleted'} {names}"
                      + (f" ({_mib(size)})" if doomed else ""))
    console.print(f"{'would free' if dry_run else 'freed'} {_mib(freed)}")


def main() -> None:
    """Entry point: run the CLI, turning storemind's own errors into a message and exit 1."""
    try:
        app()
    except StoremindError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
