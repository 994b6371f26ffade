"""The canonical tables: names, column types, required columns, keys and value rules.

Every table a capability reads is declared here once. Ids are strings at the edges; models map
them to dense integers inside. Timestamps are naive UTC. ``attributes`` columns hold JSON text
for whatever a source has beyond the canonical columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Column", "TableSchema", "TABLES", "ORDER_LINES", "EVENT_TYPES", "table_schema"]

EVENT_TYPES: tuple[str, ...] = ("view", "click", "cart", "purchase", "rating", "search")


@dataclass(frozen=True)
class Column:
    """One column: name, SQL type, whether a value is required, and value rules."""

    name: str
    type: str  # VARCHAR, DOUBLE, BIGINT, TIMESTAMP, BOOLEAN
    required: bool = False
    min: float | None = None  # inclusive lower bound for numbers
    choices: tuple[str, ...] | None = None  # allowed values for text


@dataclass(frozen=True)
class TableSchema:
    """A canonical table. ``key`` columns identify a row; re-ingesting a key stores nothing."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None = None
    derived_key: bool = False  # key may be absent in input: derived from the row's content
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return self._by_name[name]


S, F, I, T, B = "VARCHAR", "DOUBLE", "BIGINT", "TIMESTAMP", "BOOLEAN"  # noqa: E741

TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in [
        TableSchema(
            "items",
            (
                Column("item_id", S, required=True),
                Column("title", S),
                Column("category", S),
                Column("brand", S),
                Column("price", F, min=0),
                Column("created_at", T),
                Column("description", S),
                Column("attributes", S),
            ),
            key=("item_id",),
            time_column="created_at",
            description="The catalogue.",
        ),
        TableSchema(
            "users",
            (
                Column("user_id", S, required=True),
                Column("signup_ts", T),
                Column("country", S),
                Column("device", S),
                Column("source", S),
                Column("attributes", S),
            ),
            key=("user_id",),
            time_column="signup_ts",
            description="Customers.",
        ),
        TableSchema(
            "events",
            (
                Column("event_id", S, required=True),
                Column("user_id", S, required=True),
                Column("item_id", S),
                Column("session_id", S),
                Column("event_type", S, required=True, choices=EVENT_TYPES),
                Column("value", F),
                Column("ts", T, required=True),
                Column("query", S),
            ),
            key=("event_id",),
            time_column="ts",
            derived_key=True,
            description="Views, clicks, carts, purchases, ratings and searches.",
        ),
        TableSchema(
            "orders",
            (
                Column("order_id", S, required=True),
                Column("user_id", S),
                Column("ts", T, required=True),
                Column("status", S),
                Column("total", F, min=0),
                Column("currency", S),
                Column("country", S),
                Column("channel", S),
                Column("kind", S, choices=("sale", "return", "cancellation")),
                Column("shipping_address", S),
            ),
            key=("order_id",),
            time_column="ts",
            description="Orders; returns and cancellations are orders of their own kind.",
        ),
        TableSchema(
            "order_items",
            (
                Column("order_id", S, required=True),
                Column("line_no", I, required=True, min=0),
                Column("item_id", S, required=True),
                Column("quantity", F, required=True, min=0),
                Column("unit_price", F, min=0),
            ),
            key=("order_id", "line_no"),
            description="Order lines; quantities are positive, the order kind gives direction.",
        ),
        TableSchema(
            "payments",
            (
                Column("payment_id", S, required=True),
                Column("order_id", S),
                Column("user_id", S),
                Column("ts", T, required=True),
                Column("amount", F, required=True, min=0),
                Column("currency", S),
                Column("method", S),
                Column("card_id", S),
                Column("device_id", S),
                Column("ip", S),
                Column("country", S),
                Column("is_fraud", I, min=0),
                Column("attributes", S),
            ),
            key=("payment_id",),
            time_column="ts",
            derived_key=True,
            description="Payments, with a fraud label where known; a payment without an id "
            "gets one from its content.",
        ),
        TableSchema(
            "sales",
            (
                Column("item_id", S, required=True),
                Column("location_id", S, required=True),
                Column("ts", T, required=True),
                Column("quantity", F),
                Column("revenue", F),
                Column("price", F, min=0),
                Column("promo", F),
                Column("is_holiday", B),
                Column("attributes", S),
            ),
            key=("item_id", "location_id", "ts"),
            time_column="ts",
            description="Aggregated demand per item, location and period (e.g. weekly sales).",
        ),
        TableSchema(
            "stock",
            (
                Column("item_id", S, required=True),
                Column("ts", T, required=True),
                Column("on_hand", F, required=True, min=0),
                Column("lead_time_days", F, min=0),
                Column("unit_cost", F, min=0),
            ),
            key=("item_id", "ts"),
            time_column="ts",
            description="Stock level snapshots.",
        ),
        TableSchema(
            "campaigns",
            (
                Column("campaign_id", S, required=True),
                Column("name", S),
                Column("start_ts", T),
                Column("end_ts", T),
                Column("arms", S),
                Column("description", S),
            ),
            key=("campaign_id",),
            time_column="start_ts",
            description="Campaigns and experiments.",
        ),
        TableSchema(
            "exposures",
            (
                Column("exposure_id", S, required=True),
                Column("campaign_id", S, required=True),
                Column("user_id", S),
                Column("arm", S, required=True),
                Column("ts", T),
                Column("item_id", S),
                Column("position", I, min=0),
                Column("propensity", F, min=0),
                Column("clicked", F, min=0),
                Column("visited", F, min=0),
                Column("converted", F, min=0),
                Column("spend", F, min=0),
                Column("attributes", S),
            ),
            key=("exposure_id",),
            time_column="ts",
            derived_key=True,
            description="Who saw which campaign arm (or policy item), and what followed; an "
            "exposure without an id gets one from its content.",
        ),
        TableSchema(
            "questions",
            (
                Column("question_id", S, required=True),
                Column("question", S, required=True),
                Column("answer", S),
                Column("intent", S),
                Column("source", S),
                Column("item_id", S),
                Column("split", S),
            ),
            key=("question_id",),
            description="FAQ entries, policies and past Q&A.",
        ),
    ]
}

#: What one line of an order-lines export may hold (``Store.ingest("order_lines", ...)``). Not
#: a stored table: its lines fill orders, order_items, events, items and users
#: (``storemind.store._order_lines``). A negative quantity is a returned line.
ORDER_LINES = TableSchema(
    "order_lines",
    (
        Column("order_id", S, required=True),
        Column("line_no", I, required=True, min=0),
        Column("item_id", S, required=True),
        Column("quantity", F, required=True),
        Column("unit_price", F, required=True, min=0),
        Column("ts", T, required=True),
        Column("user_id", S),
        Column("kind", S, choices=("sale", "return", "cancellation")),
        Column("status", S),
        Column("currency", S),
        Column("country", S),
        Column("channel", S),
        Column("title", S),
        Column("category", S),
        Column("brand", S),
        Column("source_line", I),
    ),
    key=("order_id", "line_no"),
    time_column="ts",
    description="An order-lines export; fills orders, order_items, events, items and users.",
)

QUARANTINE = TableSchema(
    "quarantine",
    (
        Column("table_name", S, required=True),
        Column("source", S, required=True),
        Column("line", I),
        Column("column_name", S),
        Column("reason", S, required=True),
        Column("raw", S),
        Column("ingested_at", T, required=True),
    ),
    key=(),
    description="Rows that failed validation, with where they came from and why.",
)


def table_schema(name: str) -> TableSchema:
    """The schema of canonical table ``name``; a clear error for an unknown name."""
    try:
        return TABLES[name]
    except KeyError:
        from storemind.errors import NotFoundError

        raise NotFoundError(
            f"unknown table {name!r}; canonical tables are: {', '.join(sorted(TABLES))} (and "
            "order_lines, an order-lines export that fills orders, order_items, events, items "
            "and users)"
        ) from None
