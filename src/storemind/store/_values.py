"""Typing and checking values in SQL: how a column's text becomes a number, a time or a
choice, and the reason a value is refused. One vectorised pass over a staged source uses them
(``_ingest``)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from storemind.errors import IngestError
from storemind.store.schema import Column

__all__ = ["TIME_RANGE", "DESCRIPTIVE_TIME_RANGE", "ValueFormat"]

DECIMALS = (".", ",")


@dataclass(frozen=True)
class ValueFormat:
    """How a source writes values the canonical forms do not settle.

    ``time_format``: strptime codes for its times (``%m/%d/%Y %H:%M``), tried before the
    usual forms. ``decimal``: its decimal separator, ``"."`` or ``","``; None reads every
    number whose form says it (``2,55`` and ``1.234,50`` are European, ``1,234.50`` is not)
    and refuses ``1,234``, which either could be."""

    time_format: str | None = None
    decimal: str | None = None

    def check(self, con: duckdb.DuckDBPyConnection) -> None:
        """Raise :class:`IngestError` for a format the reader cannot use (before any row is
        read)."""
        if self.decimal is not None and self.decimal not in DECIMALS:
            raise IngestError(f"decimal separator must be '.' or ','; got {self.decimal!r}")
        check_time_format(con, self.time_format)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(col: Column, blank: str, fmt: ValueFormat = ValueFormat()) -> str:
    """SQL typing ``blank`` (a column holding the trimmed text, NULL when empty); NULL where
    the text does not parse, as ``fmt`` says it is written."""
    time_format = fmt.time_format
    if col.type == "VARCHAR":
        return blank
    if col.type == "DOUBLE":
        return _number(blank, fmt.decimal)
    if col.type == "BIGINT":
        d = _number(blank, fmt.decimal)
        return f"CASE WHEN {d} = FLOOR({d}) THEN CAST({d} AS BIGINT) END"
    if col.type == "BOOLEAN":
        return f"TRY_CAST({blank} AS BOOLEAN)"
    if col.type == "TIMESTAMP":
        # stored as naive UTC: a time with an offset is converted (a plain cast to TIMESTAMP
        # drops the offset), Unix seconds (milliseconds above 2e10) are read as the API reads
        # them, and anything else is taken as written
        # (cheap string tests first, so that the common naive time pays for no regex; Unix
        # time only where no cast could read the text)
        num = f"TRY_CAST({blank} AS DOUBLE)"
        utc = f"timezone('UTC', TRY_CAST({blank} AS TIMESTAMPTZ))"
        # an offset ends the text: "+02:00", "-0500", "-05", "Z", "UTC" (one-character tests)
        maybe_offset = (f"(strpos({blank}, '+') > 0 OR right({blank}, 1) IN ('Z', 'z', 'C') "
                        f"OR '-' IN ({blank}[-6], {blank}[-5], {blank}[-3]))")
        epoch = (f"CASE WHEN regexp_matches({blank}, '{_EPOCH_RE}') THEN timezone('UTC', "
                 f"to_timestamp(CASE WHEN {num} > 2e10 THEN {num} / 1000 ELSE {num} END)) END")
        # the engine reads "10:00:00+0200" but not "10:00:00 +0200" (Shopify's exports) nor
        # "10:00 Z": the space goes first
        spaced = f"regexp_replace({blank}, '{_SPACED_ZONE_RE}', '\\1')"
        usual = (
            f"CASE WHEN {maybe_offset} AND regexp_matches({blank}, '{_OFFSET_RE}') THEN "
            f"timezone('UTC', TRY_CAST({spaced} AS TIMESTAMPTZ)) "
            f"ELSE COALESCE(TRY_CAST({blank} AS TIMESTAMP), {epoch}, {utc}) END"
        )
        if not time_format:
            return usual
        given = f"TRY_STRPTIME({blank}, {_lit(time_format)})"
        if "%z" in time_format or "%Z" in time_format:  # parsed with its offset: to UTC
            given = f"timezone('UTC', {given})"
        return f"COALESCE({given}, {usual})"
    raise ValueError(f"unhandled column type {col.type}")


def _number(blank: str, decimal: str | None) -> str:
    """SQL reading a number: as the engine does, else without currency signs or codes and
    spaces ("£2.55", "12.50 EUR", "1 234,50"), with the separators as ``decimal`` says (or,
    when None, as the number's form says; :class:`ValueFormat`)."""
    # (a CASE, not COALESCE: the engine then skips the fallback for the numbers it read,
    # which cost 5% of an Online Retail ingest)
    plain = f"TRY_CAST({blank} AS DOUBLE)"
    bare = (f"regexp_replace(regexp_replace({blank}, '{_CURRENCY_CODE_RE}', ''), "
            f"'{_SIGN_OR_SPACE_RE}', '', 'g')")
    us = f"TRY_CAST(replace({bare}, ',', '') AS DOUBLE)"
    eu = f"TRY_CAST(replace(replace({bare}, '.', ''), ',', '.') AS DOUBLE)"
    if decimal == ".":
        return (f"CASE WHEN {plain} IS NOT NULL OR {blank} IS NULL THEN {plain} "
                f"WHEN regexp_full_match({bare}, '{_US_GROUPED_RE}') THEN {us} "
                f"ELSE TRY_CAST({bare} AS DOUBLE) END")
    if decimal == ",":
        return (f"CASE WHEN regexp_full_match({bare}, '{_EU_GROUPED_RE}') THEN {eu} "
                f"ELSE TRY_CAST(replace({bare}, ',', '.') AS DOUBLE) END")
    return (f"CASE WHEN {plain} IS NOT NULL OR {blank} IS NULL THEN {plain} "
            f"WHEN regexp_full_match({bare}, '{_US_SURE_RE}') THEN {us} "
            f"WHEN regexp_full_match({bare}, '{_EU_SURE_RE}') THEN {eu} "
            f"WHEN strpos({bare}, ',') = 0 THEN TRY_CAST({bare} AS DOUBLE) END")


#: A currency code before or after the amount ("EUR 12.50", "12.50 USD").
_CURRENCY_CODE_RE = r"^[A-Z]{3} ?| ?[A-Z]{3}$"
#: Currency signs and spaces (no-break and narrow no-break too: French thousands).
_SIGN_OR_SPACE_RE = r"[\s\x{00A0}\x{202F}$£€¥₹]"
#: Thousands grouped by commas, maybe with decimals after a point ("1,234", "1,234.5").
_US_GROUPED_RE = r"[-+]?[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?"
#: Thousands grouped by points, maybe with decimals after a comma ("1.234", "1.234,5").
_EU_GROUPED_RE = r"[-+]?[0-9]{1,3}([.][0-9]{3})+(,[0-9]*)?"
#: Comma groups that cannot be decimals: two groups or more, or a point after ("1,234.50").
_US_SURE_RE = r"[-+]?[0-9]{1,3}((,[0-9]{3}){2,}([.][0-9]*)?|,[0-9]{3}[.][0-9]*)"
#: A decimal comma that cannot be a thousands group: not 3 digits after it ("2,55"), or
#: points before it ("1.234,50").
_EU_SURE_RE = r"[-+]?([0-9]*,([0-9]{0,2}|[0-9]{4,})|[0-9]{1,3}([.][0-9]{3})+,[0-9]*)"
#: A time of day followed by a UTC offset or zone letter: "12:00:00+02:00", "12:00Z", "...+02".
_OFFSET_RE = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?(Z|z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)$"
#: A space before a numeric offset or "Z" that ends the text (removed before the cast).
_SPACED_ZONE_RE = r" ([+-][0-9]{2}(:?[0-9]{2})?|Z|z)$"
#: A date written with slashes or dots and the year last ("2/24/2015", "24.02.15"): the
#: order of day and month is the file's convention, so it takes a ``time_format``.
_SLASH_DATE_RE = r"^[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}"
#: Unix time: 9-10 digits of seconds (1973-2286) or 12-13 of milliseconds, maybe a fraction.
_EPOCH_RE = r"^([0-9]{9,10}|[0-9]{12,13})([.][0-9]+)?$"
#: The years a stored time may have: an event's own time (a required ``ts``) as the API
#: allows, a descriptive one (an item's release date, say: MovieLens has films from 1922)
#: from 1700, still inside what pandas holds.
TIME_RANGE = (1970, 2200)
DESCRIPTIVE_TIME_RANGE = (1700, 2200)


def _reason(col: Column, blank: str, typed: str, fmt: ValueFormat = ValueFormat()) -> str:
    """SQL giving why a value is bad, or NULL when it is fine (``blank`` and ``typed`` are
    column references, so each value is parsed once)."""
    time_format = fmt.time_format
    parts = []
    if col.required:
        parts.append(f"WHEN {blank} IS NULL THEN 'missing required value'")
    if col.type in ("DOUBLE", "BIGINT") and fmt.decimal is None:
        parts.append(f"WHEN {typed} IS NULL AND regexp_full_match({blank}, "
                     f"'[^,]*[0-9],[0-9]{{3}}[^,.0-9]*') THEN 'not a number without a decimal "
                     f"separator given (1,234 may be 1234 or 1.234)'")
    if col.type == "TIMESTAMP" and time_format:
        parts.append(f"WHEN {blank} IS NOT NULL AND {typed} IS NULL THEN "
                     f"{_lit(f'not a timestamp in the time format {time_format}')}")
    elif col.type == "TIMESTAMP":
        parts.append(f"WHEN {typed} IS NULL AND regexp_matches({blank}, '{_SLASH_DATE_RE}') "
                     "THEN 'not a timestamp unless a time format says which number is the day "
                     "(e.g. %m/%d/%Y %H:%M)'")
    kind = {
        "DOUBLE": "a number",
        "BIGINT": "an integer",
        "TIMESTAMP": "a timestamp",
        "BOOLEAN": "true/false",
    }.get(col.type)
    if kind:
        parts.append(f"WHEN {blank} IS NOT NULL AND {typed} IS NULL THEN 'not {kind}'")
    if col.min is not None:
        what = "negative value" if col.min == 0 else f"value below {col.min:g}"
        parts.append(f"WHEN {typed} < {col.min!r} THEN '{what}'")
    if col.type == "DOUBLE":
        parts.append(f"WHEN isinf({typed}) OR isnan({typed}) THEN 'not a finite number'")
    if col.type == "TIMESTAMP":  # year 1 or 9999 would break every pandas reader downstream
        lo, hi = TIME_RANGE if col.required else DESCRIPTIVE_TIME_RANGE
        parts.append(f"WHEN {typed} < TIMESTAMP '{lo}-01-01' OR {typed} >= TIMESTAMP "
                     f"'{hi + 1}-01-01' THEN 'timestamp outside {lo}-{hi}'")
    if col.choices:
        allowed = ", ".join(_lit(c) for c in col.choices)
        shown = "/".join(col.choices)
        parts.append(
            f"WHEN {typed} IS NOT NULL AND lower({typed}) NOT IN ({allowed}) "
            f"THEN 'unknown value (expected {shown})'"
        )
    return "CASE " + " ".join(parts) + " END" if parts else "NULL"


def check_time_format(con: duckdb.DuckDBPyConnection, time_format: str | None) -> None:
    """Raise :class:`IngestError` unless ``time_format`` is None or strptime codes the engine
    knows (checked before any row is read)."""
    if time_format is None:
        return
    if "%" not in time_format or len(time_format) > 100:
        raise IngestError(f"time format {time_format!r} has no strptime codes; write it like "
                          "%m/%d/%Y %H:%M (month/day/year) or %d.%m.%Y %H:%M:%S")
    try:
        con.execute("SELECT TRY_STRPTIME('', ?)", [time_format]).fetchone()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0].removeprefix("Invalid Input Error: ")
        raise IngestError(f"time format {time_format!r} is not valid: {first}") from None
