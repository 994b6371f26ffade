"""Validated, idempotent ingestion into the canonical tables (DuckDB side).

A source (CSV, Parquet, JSONL file, or a pandas frame) is read as text into a staging table,
each value is typed and checked in one vectorised SQL pass, good rows are inserted with
``INSERT OR IGNORE`` on the table's key (so re-ingesting stores nothing twice), and bad rows go
to ``quarantine`` with the source, line, column and reason. Counts always add up:
``read = stored + duplicates + quarantined``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from storemind.errors import IngestError
from storemind.store._keys import KeyFilter
from storemind.store._values import ValueFormat, _lit, _q, _reason, _typed
from storemind.store.schema import TableSchema

__all__ = ["IngestReport", "ingest_source", "FORMATS", "format_of"]

FORMATS = ("csv", "parquet", "jsonl")
#: The columns :meth:`Store.quarantined` adds to the rows it exports; ingesting a fixed
#: export skips them.
QUARANTINE_EXPORT_COLUMNS = frozenset(
    f"quarantine_{c}" for c in ("table", "source", "line", "column", "reason", "raw"))
_JSONL_CHUNK = 200_000
_SNIFF_BYTES = 1 << 20
_DQ = '"'


@dataclass
class IngestReport:
    """What one ingestion did. ``read == stored + duplicates + quarantined`` always holds."""

    table: str
    source: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    new_keys: list[Any] | None = None  # keys of the rows stored, when asked for
    #: tables filled from this source besides its own (an order-lines export fills orders,
    #: order_items, events, items and users), each with its own report
    derived: dict[str, IngestReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when at least one row is now in the table (new or already there)."""
        return self.stored + self.duplicates > 0

    def merge(self, other: IngestReport) -> None:
        self.read += other.read
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.reasons.update(other.reasons)

    def __str__(self) -> str:
        text = (
            f"{self.table} <- {self.source}: read {self.read:,} = stored {self.stored:,}"
            f" + duplicates {self.duplicates:,} + quarantined {self.quarantined:,}"
        )
        if self.reasons:
            top = ", ".join(f"{r} ({n:,})" for r, n in self.reasons.most_common(5))
            text += f"; quarantine reasons: {top}"
        return text


def _detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise IngestError(f"unknown format {fmt!r} for {path}; expected one of {FORMATS}")
        return fmt
    kind = format_of(path)
    if kind is None:
        raise IngestError(
            f"cannot tell the format of {path} from its name; pass fmt= one of {FORMATS}")
    return kind


def format_of(path: str | Path) -> str | None:
    """The format a file's name says (``csv``, ``parquet`` or ``jsonl``; ``.gz`` allowed), or
    None."""
    name = Path(path).name.lower()
    for suffix, kind in (
        (".parquet", "parquet"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
        (".tsv", "csv"),
        (".txt", "csv"),
    ):
        if name.endswith(suffix) or name.endswith(suffix + ".gz"):
            return kind
    return None


#: The text encodings the reader knows, by the names people write them with.
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-16": "utf-16", "utf16": "utf-16",
             "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1"}


def detect_encoding(head: bytes) -> str | None:
    """A CSV file's encoding from its first bytes: ``utf-16`` after a UTF-16 byte-order mark
    (Excel's "Unicode text"), None (UTF-8) when they decode as UTF-8, else ``latin-1``
    (a Windows or older export; ISO-8859-1 reads every byte, and agrees with Windows-1252
    on the letters and signs shops use, such as é and £)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None if exc.start >= len(head) - 3 else "latin-1"  # a character cut at the end
    return None


def check_encoding(encoding: str | None) -> str | None:
    """The reader's name for ``encoding``; :class:`IngestError` for one it does not know."""
    if encoding is None:
        return None
    known = ENCODINGS.get(encoding.strip().lower().replace("_", "-"))
    if known is None:
        raise IngestError(f"unknown encoding {encoding!r}; the reader knows utf-8, utf-16 and "
                          "latin-1 (Windows-1252 files read as latin-1)")
    return None if known == "utf-8" else known


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _frame_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as Python text or None, so staging never fails on mixed types."""
    out = {}
    for col in frame.columns:
        series = frame[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[str(col)] = series.dt.strftime("%Y-%m-%d %H:%M:%S.%f").where(series.notna(), None)
        else:
            out[str(col)] = [_text(v) for v in series.tolist()]
    return pd.DataFrame(out, dtype=object)


class _Stager:
    """Reads one source into the temp table ``_stage`` (all text, plus ``_line``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source_name: str, kind: str):
        self.con = con
        self.kind = kind
        self.source_name = source_name
        self.parse_rejects: list[tuple[int | None, str | None, str, str | None]] = []
        #: the staged columns when known without asking the engine (in-memory frames)
        self.columns: list[str] | None = None
        self._stage_table = False
        self._extended = False  # computed columns added (extend): _stage1 to drop
        #: a CSV file's text encoding as given or detected (None: UTF-8)
        self.encoding: str | None = None

    def file(self, path: Path, fmt: str, delimiter: str | None,
             encoding: str | None = None) -> None:
        p = _lit(str(path))
        if fmt == "csv":
            if not delimiter and path.name.lower().removesuffix(".gz").endswith(".tsv"):
                delimiter = "\t"
            self.encoding = encoding
            opts = self._csv_dialect(path, delimiter)
            if opts is None:  # let the engine sniff the whole file (and say what is wrong)
                opts = "all_varchar=true, header=true"
                if delimiter:
                    opts += f", delim={_lit(delimiter)}"
            if self.encoding:
                opts += f", encoding={_lit(self.encoding)}"
            self._create(f"SELECT * FROM read_csv({p}, {opts}, store_rejects=true)")
        elif fmt == "parquet":
            self._create(f"SELECT * FROM read_parquet({p})")
        else:
            self._jsonl(path)

    def _csv_dialect(self, path: Path, delimiter: str | None) -> str | None:
        """read_csv options fixing the dialect and the columns (all text), sniffed once from the
        file's first MiB: without them every bind of the staging view sniffs the file again,
        which on a gzip file costs as much as a fifth of the whole read. None when the head
        cannot be sniffed (the engine then sniffs the file itself)."""
        import gzip
        import tempfile

        name = path.name.lower()
        if name.rsplit(".", 1)[-1] in ("zst", "zstd", "bz2", "xz"):
            return None
        try:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as fh:
                head = fh.read(_SNIFF_BYTES + 1)
        except (OSError, EOFError):
            return None
        if self.encoding is None:
            self.encoding = detect_encoding(head)
        if self.encoding == "utf-16":  # two bytes a character: the engine sniffs the file
            return None
        if len(head) > _SNIFF_BYTES:  # whole lines only
            head = head[: head.rfind(b"\n") + 1]
        if not head.strip():
            return None
        with tempfile.TemporaryDirectory(prefix="storemind-sniff-") as tmp:
            sample = Path(tmp) / "head.csv"
            sample.write_bytes(head)
            # ignore_errors: a malformed line in the head must not derail the dialect (the
            # full read rejects it into the quarantine, with its line)
            args = "all_varchar=true, header=true, ignore_errors=true"
            if self.encoding:
                args += f", encoding={_lit(self.encoding)}"
            if delimiter:
                args += f", delim={_lit(delimiter)}"
            try:
                row = self.con.execute(
                    "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, "
                    f"Columns FROM sniff_csv({_lit(str(sample))}, {args})"
                ).fetchone()
            except duckdb.Error:
                return None
        if row is None:
            return None
        delim, quote, escape, newline, comment, skip, columns = row

        def plain(v: str) -> str:
            return "" if v == "(empty)" else v

        names = [c["name"] for c in columns]
        if not names or len(set(names)) != len(names):
            return None
        cols = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
        opts = (
            f"columns={cols}, header=true, auto_detect=false, delim={_lit(delimiter or delim)}, "
            # a head with no quoted field tells nothing of quoting: assume RFC 4180's '"'
            f"quote={_lit(plain(quote) or _DQ)}, escape={_lit(plain(escape) or _DQ)}, "
            f"skip={int(skip or 0)}"
        )
        if plain(comment):
            opts += f", comment={_lit(plain(comment))}"
        if newline in ("\\n", "\\r", "\\r\\n"):
            opts += f", new_line={_lit(newline)}"
        return opts

    def frame(self, frame: pd.DataFrame) -> None:
        text = _frame_as_text(frame)
        self.con.register("_src_frame", text)
        self._registered = True
        self._create("SELECT * FROM _src_frame")
        names = [str(c) for c in text.columns]
        # the engine's names are case-insensitive: only names unique that way stay as they are
        if len({n.lower() for n in names}) == len(names) and all(names) \
                and "_line" not in names:
            self.columns = names

    def collect_rejects(self) -> None:
        """Lines the CSV parser rejected during the (last) full read of the source."""
        if self.kind != "csv":
            return
        rej = self.con.execute(
            "SELECT line, column_name, error_type, csv_line FROM reject_errors "
            "WHERE scan_id = (SELECT max(scan_id) FROM reject_scans) ORDER BY line"
        ).fetchall()
        # the engine reports a line once per extra column: one line, one reject
        seen: set[int] = set()
        self.parse_rejects = []
        for line, col, etype, raw in rej:
            if int(line) not in seen:
                seen.add(int(line))
                why = f"malformed CSV line: {etype.lower()}"
                if why.endswith("invalid encoding"):  # UTF-8 read, another encoding written
                    why += " (not UTF-8: give the file's encoding, e.g. latin-1)"
                self.parse_rejects.append((int(line), col, why, raw))
        self.con.execute("DELETE FROM reject_errors; DELETE FROM reject_scans;")

    def staged_columns(self) -> list[str]:
        """The source's column names (without ``_line``)."""
        if self.columns is not None:
            return list(self.columns)
        return [r[0] for r in self.con.execute("DESCRIBE _stage").fetchall() if r[0] != "_line"]

    def extend(self, exprs: dict[str, str], replace: dict[str, str] | None = None) -> None:
        """Add computed columns (name -> SQL over the staged text and ``_line``) to the stage,
        and compute some of its columns anew (``replace``), reading the source once here (a
        CSV's rejected lines are collected from this read)."""
        sel = ", ".join(f"{sql} AS {_q(name)}" for name, sql in exprs.items())
        star = "*"
        if replace:
            star += " REPLACE (" + ", ".join(f"{sql} AS {_q(name)}"
                                             for name, sql in replace.items()) + ")"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _stage1 AS SELECT {star}, {sel} "
                         "FROM _stage")
        self.con.execute("CREATE OR REPLACE TEMP VIEW _stage AS SELECT * FROM _stage1")
        self._extended = True
        if self.columns is not None:
            self.columns = self.columns + list(exprs)

    def cleanup(self) -> None:
        self.con.execute("DROP VIEW IF EXISTS _stage")
        if self._extended:
            self.con.execute("DROP TABLE IF EXISTS _stage1")
        if self._stage_table:
            self.con.execute("DROP TABLE IF EXISTS _stage0")
        if getattr(self, "_registered", False):
            self.con.unregister("_src_frame")

    def _jsonl(self, path: Path) -> None:
        import gzip

        opener = gzip.open if path.name.endswith(".gz") else open
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        created = False
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    self.parse_rejects.append(
                        (lineno, None, f"malformed JSON: {exc.msg}", raw[:500])
                    )
                    continue
                if not isinstance(obj, dict):
                    self.parse_rejects.append(
                        (
                            lineno,
                            None,
                            f"JSON line is a {type(obj).__name__}, not an object",
                            raw[:500],
                        )
                    )
                    continue
                rows.append(obj)
                lines.append(lineno)
                if len(rows) >= _JSONL_CHUNK:
                    created = self._append_rows(rows, lines, created)
                    rows, lines = [], []
        if rows or not created:
            self._append_rows(rows, lines, created)

    def _append_rows(self, rows: list[dict[str, Any]], lines: list[int], created: bool) -> bool:
        frame = _frame_as_text(pd.DataFrame(rows)) if rows else pd.DataFrame()
        frame["_line"] = lines
        self.con.register("_src_rows", frame)
        try:
            if not created:
                self.con.execute("CREATE OR REPLACE TEMP TABLE _stage0 AS SELECT * FROM _src_rows")
                self._stage_table = True
                self.con.execute("CREATE OR REPLACE TEMP VIEW _stage AS SELECT * FROM _stage0")
            else:
                self.con.execute("INSERT INTO _stage0 BY NAME SELECT * FROM _src_rows")
        except Exception:
            # later chunks may bring new keys: widen the stage table
            have = {r[0] for r in self.con.execute("DESCRIBE _stage0").fetchall()}
            for col in frame.columns:
                if col not in have:
                    self.con.execute(f"ALTER TABLE _stage0 ADD COLUMN {_q(col)} VARCHAR")
            self.con.execute("INSERT INTO _stage0 BY NAME SELECT * FROM _src_rows")
            self.con.execute("CREATE OR REPLACE TEMP VIEW _stage AS SELECT * FROM _stage0")
        finally:
            self.con.unregister("_src_rows")
        return True

    def _create(self, select: str) -> None:
        # a view: the source is read once, by the validation query; row_number() follows the
        # source's order (DuckDB preserves insertion order), so _line is the source row
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW _stage AS SELECT CAST(COLUMNS(*) AS VARCHAR), "
            f"row_number() OVER () AS _line FROM ({select})"
        )


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    source: str | Path | pd.DataFrame,
    *,
    mapping: dict[str, str] | None = None,
    fmt: str | None = None,
    source_name: str | None = None,
    delimiter: str | None = None,
    defaults: dict[str, str] | None = None,
    key_filters: dict[str, KeyFilter] | None = None,
    return_keys: bool = False,
    prepare: Callable[[_Stager, dict[str, str]], dict[str, str]] | None = None,
    finish: Callable[[_Stager, IngestReport], None] | None = None,
    time_format: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """Stage, validate and store one source into ``schema``'s table; see the module docstring.

    ``key_filters`` (table name -> :class:`KeyFilter`, kept by the caller between calls) spares
    small appends the anti-join against the whole table; ``return_keys`` fills
    ``report.new_keys`` with the keys of the rows this call stored. ``prepare`` may add
    computed columns to the stage before validation and returns the mapping to use;
    ``finish`` runs after the rows are stored, while the stage still exists. ``time_format``
    (strptime codes, e.g. ``%m/%d/%Y %H:%M``) reads the times a file writes its own way;
    ISO times and Unix seconds are read as well. ``decimal`` (``"."`` or ``","``) is the
    decimal separator of its numbers; without it, a number's form decides, and ``1,234``
    (1234 or 1.234) is refused (:class:`~storemind.store._values.ValueFormat`). ``encoding``
    (utf-8, utf-16 or latin-1) is a CSV file's; without it, it is read from the file's
    first MiB (:func:`detect_encoding`). ``dry_run`` checks everything and counts what would
    be stored, duplicated and quarantined, then rolls back: nothing is stored."""
    values = ValueFormat(time_format, decimal)
    values.check(con)
    encoding = check_encoding(encoding)
    if isinstance(source, pd.DataFrame):
        name = source_name or "<frame>"
        stager = _Stager(con, name, "frame")
        stager.frame(source)
    else:
        path = Path(source)
        name = source_name or str(path)
        if not path.is_file():
            what = "a folder, not a file" if path.is_dir() else "no such file"
            raise IngestError(f"cannot read {name}: {what}")
        kind = _detect_format(path, fmt)
        stager = _Stager(con, name, kind)
        try:
            stager.file(path, kind, delimiter, encoding)
        except IngestError:
            raise
        except Exception as exc:  # the engine's parse error, reworded
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # named as the caller knows the source (a server reads a copy in its inbox)
            first = first.replace(str(path), name)
            raise IngestError(f"cannot read {name} as {kind}: {first}") from exc
    try:
        mapping = dict(mapping or {})
        if prepare is not None:
            mapping = prepare(stager, mapping)
        report = _validate_and_store(
            con, schema, stager, name, mapping, defaults or {}, key_filters, return_keys,
            values, dry_run
        )
        if finish is not None:
            finish(stager, report)
        return report
    finally:
        stager.cleanup()


def _validate_and_store(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    stager: _Stager,
    source_name: str,
    mapping: dict[str, str],
    defaults: dict[str, str],
    key_filters: dict[str, KeyFilter] | None = None,
    return_keys: bool = False,
    values: ValueFormat = ValueFormat(),
    dry_run: bool = False,
) -> IngestReport:
    report = IngestReport(table=schema.name, source=source_name)
    # (a quarantine export's own columns, ``Store.quarantined``, are not the source's data)
    staged = [c for c in stager.staged_columns() if c not in QUARANTINE_EXPORT_COLUMNS]
    # where each canonical column comes from
    wanted = set(schema.names)
    unknown_targets = sorted(set(mapping.values()) - wanted)
    if unknown_targets:
        raise IngestError(
            f"mapping names column(s) {unknown_targets} that {schema.name} does not have; "
            f"its columns are {schema.names}"
        )
    missing_sources = sorted(set(mapping) - set(staged))
    if missing_sources:
        raise IngestError(
            f"mapping names column(s) {missing_sources} that {source_name} does not have; "
            f"it has {staged}"
        )
    source_of: dict[str, str] = {}
    for col in staged:
        target = mapping.get(col, col if col not in mapping.values() else None)
        if target in wanted and target not in source_of:
            source_of[target] = col
    extras = [c for c in staged if c not in source_of.values()]
    unknown_defaults = sorted(set(defaults) - wanted)
    if unknown_defaults:
        raise IngestError(
            f"defaults name column(s) {unknown_defaults} that {schema.name} does not have; "
            f"its columns are {schema.names}"
        )
    missing_required = [
        c.name
        for c in schema.columns
        if c.required
        and c.name not in source_of
        and c.name not in defaults
        and not (schema.derived_key and c.name in schema.key)
    ]
    if missing_required and con.execute("SELECT 1 FROM _stage LIMIT 1").fetchone():
        raise IngestError(
            f"{source_name} lacks required column(s) {missing_required} for table {schema.name}; "
            f"it has {staged}. Pass a mapping (e.g. --map their_name=our_name)."
        )

    def raw(name: str) -> str:
        given = _q(source_of[name]) if name in source_of else None
        blank = f"NULLIF(TRIM({given}), '')" if given else "NULL::VARCHAR"
        if name in defaults:
            return f"COALESCE({blank}, {_lit(str(defaults[name]))}::VARCHAR)"
        return blank

    # layer 1: trimmed text (b_i); layer 2: typed values (t_i); layer 3: reasons (r_i);
    # each value is parsed once, and raw rows are kept as JSON only for the bad ones
    idx = {c.name: i for i, c in enumerate(schema.columns)}
    layer1 = ", ".join(f"{raw(c.name)} AS _sm_b{idx[c.name]}" for c in schema.columns)
    # a column the source lacks is NULL of its type: no parsing to compile (a live append
    # of a few events paid for the number reader of every absent numeric column)
    typed_exprs = {c.name: _typed(c, f"_sm_b{idx[c.name]}", values)
                   if c.name in source_of or c.name in defaults else f"NULL::{c.type}"
                   for c in schema.columns}
    if "attributes" not in wanted or "attributes" in source_of:
        report.ignored_columns = extras
    elif extras:
        pack = ", ".join(f"{_lit(c)}, {_q(c)}" for c in extras)
        typed_exprs["attributes"] = f"CAST(json_object({pack}) AS VARCHAR)"
    layer2 = ", ".join(f"{typed_exprs[c.name]} AS _sm_t{idx[c.name]}" for c in schema.columns)
    checked = [
        c.name
        for c in schema.columns
        if not (schema.derived_key and c.name in schema.key)
        and (c.name in source_of or c.name in defaults or c.required)
    ]
    layer3 = ", ".join(
        f"{_reason(schema.column(n), f'_sm_b{idx[n]}', f'_sm_t{idx[n]}', values)} "
        f"AS _sm_r{idx[n]}"
        for n in checked
    )
    final = {c.name: f"_sm_t{idx[c.name]}" for c in schema.columns}
    derived = "FALSE"
    if schema.derived_key:
        key = schema.key[0]
        content = ", ".join(
            f"COALESCE(CAST(_sm_t{idx[c.name]} AS VARCHAR), '')"
            for c in schema.columns
            if c.name != key
        )
        # hashed for good rows only: a quarantined row needs no key
        final[key] = (
            f"CASE WHEN _sm_reason IS NULL THEN "
            f"COALESCE(_sm_t{idx[key]}, md5(concat_ws('|', {content}))) END"
        )
        derived = f"_sm_t{idx[key]} IS NULL"
    reason_sql = (
        "COALESCE(" + ", ".join(f"_sm_r{idx[n]}" for n in checked) + ", NULL)"
        if checked
        else "NULL"
    )
    column_sql = (
        "CASE "
        + " ".join(f"WHEN _sm_r{idx[n]} IS NOT NULL THEN {_lit(n)}" for n in checked)
        + " END"
        if checked
        else "NULL"
    )
    # the source's own columns (not those a caller computed into the stage, ``_sm_*``)
    shown = [c for c in staged if not c.startswith("_sm_")]
    raw_struct = (
        "to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q(c)}" for c in shown) + "))::VARCHAR"
        if shown
        else "NULL::VARCHAR"
    )
    select_final = ", ".join(f"{final[c.name]} AS {_q(c.name)}" for c in schema.columns)
    passthrough = ", ".join(_q(c) for c in staged)
    keep = (passthrough + ", ") if staged else ""
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _checked AS "
            f"SELECT _line, _sm_reason AS _reason, _sm_column AS _column, {select_final}, "
            f"CASE WHEN _sm_reason IS NOT NULL THEN {raw_struct} END AS _raw, "
            f"{derived} AS _derived FROM ("
            f"  SELECT *, {reason_sql} AS _sm_reason, {column_sql} AS _sm_column FROM ("
            f"    SELECT *{', ' + layer3 if layer3 else ''} FROM ("
            f"      SELECT *, {layer2} FROM ("
            f"        SELECT _line, {keep}{layer1} FROM _stage))))"
        )
    except duckdb.Error as exc:  # the engine failed reading the source: say so plainly
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(f"cannot read {source_name} as {stager.kind}: {first}") from exc
    n_staged, bad, hashed = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _reason IS NOT NULL), "
        "count(*) FILTER (WHERE _reason IS NULL AND _derived) FROM _checked"
    ).fetchone()
    # the good rows; a key repeated in the source is settled by a window at the insert, or,
    # where keys were hashed from content (which may repeat), numbered first (_good_rows)
    good, once = _good_rows(con, schema) if hashed > 1 else (
        "SELECT * FROM _checked WHERE _reason IS NULL", True)
    stager.collect_rejects()
    report.read = n_staged + len(stager.parse_rejects)
    cols = ", ".join(_q(c) for c in schema.names)
    table = _q(schema.name)
    keys_c = ", ".join(f"c.{_q(k)}" for k in schema.key)
    stored_table = False
    con.execute("BEGIN TRANSACTION")
    try:
        before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        # idempotent by key: rows whose key is stored already, or came earlier in this
        # source, are duplicates (an anti-join: cheaper than a primary-key index on ingest;
        # skipped when the key filter shows every key of the batch is new)
        # (nothing to check when every row is bad: on a 5M-event table the anti-join alone
        # took 0.22 s for a one-event request that was quarantined)
        check_stored = bool(before) and n_staged > bad
        batch_hashes = None
        if key_filters is not None and check_stored:
            filt = key_filters.get(schema.name)
            if filt is None or filt.rows != before:
                filt = key_filters[schema.name] = build_key_filter(con, schema, before)
            batch_hashes = _hashes(con, f"SELECT hash({keys_c}) FROM ({good}) c")
            check_stored = bool(filt.may_contain(batch_hashes).any())
        match = " AND ".join(f"t.{_q(k)} = c.{_q(k)}" for k in schema.key)
        against = table
        if check_stored and key_filters is not None:
            # a small append whose keys the filter may have seen (a client's retry): find
            # which are stored with a semi-join, whose small side (the batch) is hashed and
            # prunes the table's scan, then anti-join against those few. The anti-join
            # against the whole table hashed every stored key: 0.19-0.29 s for one retried
            # event on a 5M-event table, against a few ms now.
            keys_t = ", ".join(f"t.{_q(k)}" for k in schema.key)
            keys = ", ".join(map(_q, schema.key))
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _stored AS SELECT DISTINCT {keys_t} FROM {table} t "
                f"SEMI JOIN (SELECT {keys} FROM ({good})) c ON {match}"
            )
            against, stored_table = "_stored", True
        stored_already = (
            f"AND NOT EXISTS (SELECT 1 FROM {against} t WHERE {match}) " if check_stored else ""
        )
        returning = f" RETURNING {', '.join(map(_q, schema.key))}" if return_keys else ""
        first = (f"QUALIFY row_number() OVER (PARTITION BY {keys_c} ORDER BY c._line) = 1"
                 if once else "")
        res = con.execute(
            f"INSERT INTO {table} ({cols}) SELECT {', '.join(f'c.{_q(n)}' for n in schema.names)} "
            f"FROM ({good}) c WHERE TRUE {stored_already}{first}{returning}"
        ).fetchall()
        if return_keys:
            report.new_keys = [r[0] if len(r) == 1 else tuple(r) for r in res]
            report.stored = len(res)
        else:
            report.stored = int(res[0][0]) if res else 0
        if key_filters is not None and batch_hashes is not None:
            key_filters[schema.name].add(batch_hashes, report.stored)
        report.duplicates = n_staged - bad - report.stored
        counted: list[tuple[str, int]] = []
        if bad or stager.parse_rejects:
            counted = _quarantine(con, schema, stager, source_name)
        con.execute("ROLLBACK" if dry_run else "COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _checked")
        con.execute("DROP TABLE IF EXISTS _repeated")
        if stored_table:
            con.execute("DROP TABLE IF EXISTS _stored")
    report.reasons.update({r: int(n) for r, n in counted})
    report.reasons.update(why for _, _, why, _ in stager.parse_rejects)
    report.quarantined = bad + len(stager.parse_rejects)
    return report


def _good_rows(con: duckdb.DuckDBPyConnection, schema: TableSchema) -> tuple[str, bool]:
    """The good rows of ``_checked`` with each key once, for a source whose keys were (some)
    hashed from content, as SQL; and whether the insert must still keep the first row of
    each key (it need not: every repeat is settled here).

    A given key seen again later in the source is a duplicate. A hashed key seen again is
    another occurrence of an identical row, not a duplicate (a campaign log without ids
    repeats thousands of rows): the n-th gets a key that hashes n too, so re-ingesting the
    source gives the same keys and stores nothing twice. Only the keys a GROUP BY finds
    repeated are numbered, in a small table joined in: a window over every row, or an
    UPDATE of ``_checked``, cost 8-15% of an Online Retail ingest."""
    good = "SELECT * FROM _checked WHERE _reason IS NULL"
    keys = ", ".join(map(_q, schema.key))
    repeated = f"SELECT {keys} FROM ({good}) GROUP BY ALL HAVING count(*) > 1"
    match = " AND ".join(f"c.{_q(k)} = r.{_q(k)}" for k in schema.key)
    keys_c = ", ".join(f"c.{_q(k)}" for k in schema.key)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _repeated AS SELECT * FROM ("
        f"  SELECT c._line AS l, c._derived AS d, "
        f"  row_number() OVER (PARTITION BY {keys_c} ORDER BY c._line) AS n "
        f"  FROM ({good}) c SEMI JOIN ({repeated}) r ON {match}) WHERE n > 1"
    )
    if not con.execute("SELECT count(*) FROM _repeated").fetchone()[0]:
        return good, False
    k = _q(schema.key[0])  # a hashed key is a single column
    return (f"SELECT c.* REPLACE (CASE WHEN r.d THEN md5(c.{k} || '#' || r.n) ELSE c.{k} END "
            f"AS {k}) FROM ({good}) c LEFT JOIN _repeated r ON c._line = r.l "
            f"WHERE r.l IS NULL OR r.d"), False


def build_key_filter(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, rows: int | None = None
) -> KeyFilter:
    """A :class:`KeyFilter` of every key stored in ``schema``'s table (hashed and sorted by
    the engine, in parallel: about 0.3 s for 5M keys)."""
    table = _q(schema.name)
    if rows is None:
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    keys = ", ".join(map(_q, schema.key))
    hashes = _hashes(con, f"SELECT hash({keys}) AS h FROM {table} ORDER BY h")
    return KeyFilter(hashes, rows, is_sorted=True)


def _hashes(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    out = con.execute(sql).fetchnumpy()
    return np.asarray(next(iter(out.values())), dtype=np.uint64)


def _quarantine(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, stager: _Stager, source_name: str
) -> list[tuple[str, int]]:
    """Record the bad rows of ``_checked`` and the parser's rejects; counts by reason."""
    lines = _line_numbers(stager)
    reason_text = (
        "c._reason || CASE WHEN c._column IS NOT NULL THEN ' in column ' || c._column "
        "ELSE '' END"
    )
    # a view, not a copy: the bad rows are read once, by the insert below
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _bad_rows AS "
        f"SELECT {_lit(schema.name)} AS t, {_lit(source_name)} AS src, {lines} AS line, "
        f"c._column AS col, {reason_text} AS reason, c._raw AS raw "
        "FROM _checked c WHERE c._reason IS NOT NULL"
    )
    if stager.parse_rejects:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _bad_parse (t VARCHAR, src VARCHAR, line BIGINT, "
            "col VARCHAR, reason VARCHAR, raw VARCHAR)"
        )
        con.executemany(
            "INSERT INTO _bad_parse VALUES (?, ?, ?, ?, ?, ?)",
            [[schema.name, source_name, *rej] for rej in stager.parse_rejects],
        )
        con.execute(
            "CREATE OR REPLACE TEMP VIEW _bad AS "
            "SELECT * FROM _bad_rows UNION ALL SELECT * FROM _bad_parse"
        )
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _bad AS SELECT * FROM _bad_rows")
    # a row quarantined before (same table, source, line, reason) is not recorded twice
    seen = con.execute(
        "SELECT 1 FROM quarantine WHERE table_name = ? AND source = ? LIMIT 1",
        [schema.name, source_name],
    ).fetchone()
    con.execute(
        "INSERT INTO quarantine SELECT b.*, now()::TIMESTAMP FROM _bad b"
        + (
            " WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.table_name = b.t "
            "AND q.source = b.src AND q.line IS NOT DISTINCT FROM b.line "
            "AND q.reason = b.reason)"
            if seen
            else ""
        )
    )
    con.execute("DROP VIEW _bad")
    con.execute("DROP VIEW _bad_rows")
    con.execute("DROP TABLE IF EXISTS _bad_parse")
    return con.execute(
        f"SELECT {reason_text}, count(*) FROM _checked c WHERE c._reason IS NOT NULL GROUP BY 1"
    ).fetchall()


def _line_numbers(stager: _Stager) -> str:
    """SQL for where a staged row came from: the file line for CSV (after the header and any
    lines the parser rejected) and JSONL, the 1-based row for Parquet and frames."""
    if stager.kind != "csv":
        return "c._line"
    rejected = sorted({line for line, *_ in stager.parse_rejects if line is not None})
    if not rejected or len(rejected) > 500:
        return "c._line + 1"
    # good row k sits on the k-th line (from 2) that the parser did not reject
    shifts = " + ".join(
        f"(CASE WHEN c._line + {1 + i} >= {r} THEN 1 ELSE 0 END)" for i, r in enumerate(rejected)
    )
    return f"c._line + 1 + {shifts}"
