"""The contract's rules for reference tables, checked set-based in SQL on ``raw.*``.

Rules run in three passes, each over the rows of *active* files (what staging reads):

1. cell rules on every active row: required columns non-empty, and each value well-formed for
   its kind (ISO 4217 currency, IANA timezone, decimal, integer, date, timestamp with offset...);
2. duplicate keys among the rows read by *this* load (a later load may restate a key: then the
   later-loaded row wins, as in staging);
3. rules across rows and tables on the *effective* rows (one per key, the latest loaded):
   foreign keys, plan currency = entity currency, validity windows, tiers.

A pass reports its first violation ordered by (file, row); a later pass runs only when the earlier
ones found nothing, so its casts never meet malformed text. Each violation becomes an
``InputError(file, row, rule)``.
"""

from __future__ import annotations

import csv
import functools
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import duckdb

from billing.countries import iso_countries
from billing.errors import InputError
from billing.inputs.sql import run
from billing.paths import PROJECT_DIR

#: Tables whose rows the loader validates (events and payments are judged downstream).
REFERENCE_TABLES = (
    "organizations", "entities", "teams", "users", "entity_users", "plans", "event_prices",
    "subscription_changes", "credit_purchases",
)

MODELS = ("per_unit", "graduated", "volume", "package", "percentage")
TIERED_MODELS = ("graduated", "volume")
PRORATIONS = ("daily", "second")

# Value kinds. Each maps to (SQL predicate true when the trimmed value `v` is INVALID, rule).
_DECIMAL_RE = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?"  # as macro parse_decimal
_INTEGER_RE = r"[+-]?\d{1,18}(\.0*)?"  # as macro parse_integer
# a UTC offset from -18:00 to +18:00 with minutes 00-59 (as macro parse_timestamptz)
_TIMESTAMP_RE = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
    r"(Z|z|[+-](0\d|1[0-7])(:?[0-5]\d)?|[+-]18(:?00)?)"
)
_ANY_OFFSET_TS_RE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?[+-]\d{2}(:?\d{2})?"
_LOCAL_TS_RE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"


@dataclass(frozen=True)
class Col:
    """A contract column and the kind of value it must hold."""

    name: str
    kind: str = "text"
    required: bool = True


SPECS: dict[str, tuple[Col, ...]] = {
    "organizations": (Col("organization_id"), Col("name")),
    "entities": (
        Col("entity_id"), Col("organization_id"), Col("name"), Col("currency", "currency"),
        Col("timezone", "timezone"), Col("country", "country"), Col("billing_email", "email"),
        Col("address", required=False), Col("tax_rate", "tax_rate", required=False),
        Col("credits_low_threshold", "money", required=False),
    ),
    "teams": (Col("team_id"), Col("entity_id"), Col("name")),
    "users": (Col("user_id"), Col("name"), Col("email", "email")),
    "entity_users": (
        Col("entity_id"), Col("user_id"), Col("team_id", required=False),
        Col("credit_limit", "money", required=False),
    ),
    "plans": (
        Col("plan_id"), Col("name"), Col("currency", "currency"), Col("seat_price", "money"),
        Col("proration", "proration"),
    ),
    "event_prices": (
        Col("price_id"), Col("event_type"), Col("currency", "currency"), Col("model", "model"),
        Col("tier_from", "count", required=False), Col("tier_to", "count", required=False),
        Col("unit_price", "money", required=False), Col("flat_fee", "money", required=False),
        Col("package_size", "positive_integer", required=False),
        Col("percent", "percent", required=False), Col("min_fee", "money", required=False),
        Col("max_fee", "money", required=False), Col("valid_from", "date"),
        Col("valid_to", "date", required=False),
    ),
    "subscription_changes": (
        Col("change_id"), Col("entity_id"), Col("plan_id"), Col("seats", "count"),
        Col("effective_at", "timestamp"),
    ),
    "credit_purchases": (
        Col("purchase_id"), Col("entity_id"), Col("credits", "positive_money"),
        Col("price", "money"), Col("purchased_at", "timestamp"), Col("expires_at", "timestamp"),
    ),
}

#: Natural keys (SQL over cells that passed pass 1), as staging dedups them.
KEYS: dict[str, tuple[str, ...]] = {
    "organizations": ("organization_id",),
    "entities": ("entity_id",),
    "teams": ("team_id",),
    "users": ("user_id",),
    "entity_users": ("entity_id", "user_id"),
    "plans": ("plan_id",),
    "event_prices": (
        "price_id",
        "cast(trim(valid_from) as date)",
        "coalesce(cast(regexp_replace(trim(tier_from), '\\.0*$', '') as bigint), 0)",
    ),
    "subscription_changes": ("change_id",),
    "credit_purchases": ("purchase_id",),
}
_KEY_LABELS = {
    "event_prices": ("price_id", "valid_from", "tier_from"),
}


@dataclass(frozen=True, order=True)
class Violation:
    raw_dir: str
    rel_path: str
    row: int
    rule: str


# --- reference lists -----------------------------------------------------------------------


@functools.cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 codes from the project's seed (the same list dbt rounds with)."""
    with (PROJECT_DIR / "seeds" / "currencies.csv").open(encoding="utf-8", newline="") as fh:
        return frozenset(row["currency"].strip() for row in csv.DictReader(fh))


@functools.cache
def _iana_timezones() -> frozenset[str]:
    with duckdb.connect() as con:
        duck = {r[0] for r in con.execute("select name from pg_timezone_names()").fetchall()}
    return frozenset(zoneinfo.available_timezones()) & duck


def iana_timezones() -> frozenset[str]:
    """Zones both Python's zoneinfo and DuckDB's ICU know (dbt converts times with the latter)."""
    return _iana_timezones()


# --- SQL helpers ---------------------------------------------------------------------------


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _shown(expr: str) -> str:
    """A cell quoted for an error message (cut to 60 characters)."""
    return f"'\"' || left({expr}, 60) || '\"'"


def _active_sql(table: str) -> str:
    return (
        f"select r.*, f.raw_dir as _raw_dir, f.rel_path as _rel_path, f.load_id as _load_id "
        f"from raw.{table} as r join raw.source_files as f on f.file_id = r._file_id "
        f"where f.is_active"
    )


def _effective_sql(table: str) -> str:
    key = ", ".join(KEYS[table])
    return (
        f"select * from act_{table} qualify row_number() over ("
        f"partition by {key} order by _load_id desc, _rel_path desc, _row_number desc) = 1"
    )


def active_rows(table: str) -> str:
    """Rows of the active files of ``table``, with where they came from (CTE ``act_<table>``)."""
    return f"select * from act_{table}"


def effective_rows(table: str) -> str:
    """One active row per natural key, the latest loaded, as staging picks it (``eff_<table>``)."""
    return f"select * from eff_{table}"


def _ctes(with_effective: bool) -> str:
    """The shared, materialized row sets the checks of a pass read."""
    ctes = [f"act_{t} as materialized ({_active_sql(t)})" for t in REFERENCE_TABLES]
    if with_effective:
        ctes += [f"eff_{t} as materialized ({_effective_sql(t)})" for t in REFERENCE_TABLES]
        ctes.append(f"typed_prices as materialized ({_typed_prices_sql()})")
    return "with " + ", ".join(ctes) + " "


def _first(
    con: duckdb.DuckDBPyConnection, checks: list[str], *, with_effective: bool = False
) -> Violation | None:
    """The first violation by (file, row) among ``checks`` (ties: the earlier check)."""
    union = " union all ".join(
        f"select _raw_dir, _rel_path, _row_number, rule, {n} as _check from ({sql}) "
        "where rule is not null"
        for n, sql in enumerate(checks)
    )
    sql = (
        f"{_ctes(with_effective)}select _raw_dir, _rel_path, _row_number, rule from ({union}) "
        "order by _rel_path, _row_number, _check limit 1"
    )
    lists = {
        "currencies": sorted(iso_currencies()),
        "timezones": sorted(iana_timezones()),
        "countries": sorted(iso_countries()),
    }
    rows = run(con, sql, {name: v for name, v in lists.items() if f"${name}" in sql})
    if not rows:
        return None
    raw_dir, rel_path, row, rule = rows[0]
    return Violation(raw_dir, rel_path, int(row), rule)


# --- pass 1: cells -------------------------------------------------------------------------


def _kind_rule(kind: str, name: str, cell: str) -> str | None:
    """A SQL expression giving the rule text when the non-empty ``cell`` is invalid, else null."""
    v = f"trim({cell})"
    shown = f"'{name} ' || {_shown(cell)}"
    plain_decimal = f"regexp_full_match({v}, '{_DECIMAL_RE}')"
    as_decimal = f"try_cast({v} as decimal(38,12))"
    decimal_checks = (
        f"when not {plain_decimal} or {as_decimal} is null "
        f"then {shown} || ' is not a decimal number' "
        f"when regexp_full_match({v}, '[+-]?\\d*\\.\\d*[1-9]\\d*') "
        f"and length(regexp_extract({v}, '\\.(\\d*?)0*$', 1)) > 12 "
        f"then {shown} || ' has more than 12 decimal places' "
        # sums of many such values (a ledger, an invoice) must still fit decimal(38,12)
        f"when abs({as_decimal}) >= 1000000000000000 "
        f"then {shown} || ' is too large (at most 15 digits before the decimal point)' "
    )
    integer_checks = (
        f"when not regexp_full_match({v}, '{_INTEGER_RE}') "
        f"then {shown} || ' is not an integer' "
    )
    as_integer = f"cast(regexp_replace({v}, '\\.0*$', '') as bigint)"
    rules = {
        "text": None,
        "currency": (
            f"case when not list_contains($currencies, upper({v})) "
            f"then {shown} || ' is not an ISO 4217 currency code' end"
        ),
        "timezone": (
            f"case when not list_contains($timezones, {v}) "
            f"then {shown} || ' is not an IANA time zone (e.g. Europe/Paris)' end"
        ),
        "country": (
            f"case when not list_contains($countries, {cell}) "
            f"then {shown} || ' is not an ISO 3166-1 alpha-2 country code "
            f"(two capital letters, e.g. FR, US, GB)' end"
        ),
        "email": (
            f"case when not regexp_full_match({v}, '[^@\\s]+@[^@\\s]+') "
            f"then {shown} || ' is not an email address' end"
        ),
        "proration": (
            f"case when lower({v}) not in ({', '.join(_lit(p) for p in PRORATIONS)}) "
            f"then {shown} || ' must be daily or second' end"
        ),
        "model": (
            f"case when lower({v}) not in ({', '.join(_lit(m) for m in MODELS)}) "
            f"then {shown} || ' must be one of {', '.join(MODELS)}' end"
        ),
        "money": (
            f"case {decimal_checks} when {as_decimal} < 0 "
            f"then {shown} || ' must not be negative' end"
        ),
        "positive_money": (
            f"case {decimal_checks} when {as_decimal} <= 0 "
            f"then {shown} || ' must be greater than 0' end"
        ),
        "tax_rate": (
            f"case {decimal_checks} when {as_decimal} < 0 or {as_decimal} >= 1 "
            f"then {shown} || ' must be a fraction from 0 to below 1 (0.2 means 20 %)' end"
        ),
        "percent": (
            f"case {decimal_checks} when {as_decimal} < 0 or {as_decimal} > 1 "
            f"then {shown} || ' must be a fraction from 0 to 1 (0.05 means 5 %)' end"
        ),
        "count": (
            f"case {integer_checks} when {as_integer} < 0 "
            f"then {shown} || ' must be an integer >= 0' end"
        ),
        "positive_integer": (
            f"case {integer_checks} when {as_integer} <= 0 "
            f"then {shown} || ' must be an integer > 0' end"
        ),
        "date": (
            f"case when not regexp_full_match({v}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') "
            f"or try_cast({v} as date) is null "
            f"then {shown} || ' is not a date YYYY-MM-DD' end"
        ),
        "timestamp": (
            f"case when regexp_full_match({v}, '{_LOCAL_TS_RE}') "
            f"then {shown} || ' has no UTC offset (write e.g. +02:00 or Z)' "
            f"when regexp_full_match({v}, '{_ANY_OFFSET_TS_RE}') "
            f"and not regexp_full_match({v}, '{_TIMESTAMP_RE}') "
            f"then {shown} || ' has an impossible UTC offset (from -18:00 to +18:00)' "
            f"when not regexp_full_match({v}, '{_TIMESTAMP_RE}') "
            f"or try_cast({v} as timestamptz) is null "
            f"then {shown} || ' is not an ISO-8601 timestamp with an offset' end"
        ),
    }
    return rules[kind]


def _cell_check(table: str) -> str:
    """One query per table: each row's first failing cell rule, in column order."""
    rules = []
    for col in SPECS[table]:
        cell = f'"{col.name}"'
        if col.required:
            rules.append(
                f"case when {cell} is null or trim({cell}) = '' "
                f"then 'required column {col.name} is empty' end"
            )
        rule = _kind_rule(col.kind, col.name, cell)
        if rule is not None:
            rules.append(f"case when {cell} is not null and trim({cell}) <> '' then {rule} end")
    return f"select *, coalesce({', '.join(rules)}) as rule from ({active_rows(table)})"


# --- pass 2: duplicate keys in this load ---------------------------------------------------


def _duplicate_check(table: str, load_id: int) -> str:
    key = ", ".join(KEYS[table])
    labels = _KEY_LABELS.get(table, KEYS[table])
    shown = " || ', ' || ".join(
        f"'{label} ' || coalesce(cast({expr} as varchar), '(empty)')"
        for label, expr in zip(labels, KEYS[table], strict=True)
    )
    return (
        f"select *, 'duplicate key (' || {shown} || '): already at ' || first_path "
        f"|| ' row ' || first_row as rule from ("
        f"select *, row_number() over w as n, first_value(_rel_path) over w as first_path, "
        f"first_value(_row_number) over w as first_row "
        f"from ({active_rows(table)}) where _load_id = {load_id} "
        f"window w as (partition by {key} order by _rel_path, _row_number)"
        f") where n > 1"
    )


# --- pass 3: across rows and tables --------------------------------------------------------


def _foreign_key(table: str, column: str, parent: str, parent_key: str) -> str:
    return (
        f"select c.*, case when c.{column} is not null and p.{parent_key} is null "
        f"then '{column} ' || {_shown('c.' + column)} || ' is not in {parent}' end as rule "
        f"from ({effective_rows(table)}) as c "
        f"left join ({effective_rows(parent)}) as p on p.{parent_key} = c.{column}"
    )


def _cross_checks() -> list[str]:
    ts = "cast(trim({}) as timestamptz)"
    checks = [
        _foreign_key("entities", "organization_id", "organizations", "organization_id"),
        _foreign_key("teams", "entity_id", "entities", "entity_id"),
        _foreign_key("entity_users", "entity_id", "entities", "entity_id"),
        _foreign_key("entity_users", "user_id", "users", "user_id"),
        _foreign_key("entity_users", "team_id", "teams", "team_id"),
        _foreign_key("subscription_changes", "entity_id", "entities", "entity_id"),
        _foreign_key("subscription_changes", "plan_id", "plans", "plan_id"),
        _foreign_key("credit_purchases", "entity_id", "entities", "entity_id"),
        # a user's team must belong to the entity the membership is in
        f"select eu.*, case when t.entity_id <> eu.entity_id then 'team_id ' "
        f"|| {_shown('eu.team_id')} || ' belongs to entity ' || {_shown('t.entity_id')} "
        f"|| ', not ' || {_shown('eu.entity_id')} end as rule "
        f"from ({effective_rows('entity_users')}) as eu "
        f"join ({effective_rows('teams')}) as t on t.team_id = eu.team_id",
        # a plan is billed in its subscriber's currency
        f"select s.*, case when upper(trim(p.currency)) <> upper(trim(e.currency)) "
        f"then 'plan ' || {_shown('s.plan_id')} || ' is priced in ' || upper(trim(p.currency)) "
        f"|| ' but entity ' || {_shown('s.entity_id')} || ' bills in ' "
        f"|| upper(trim(e.currency)) end as rule "
        f"from ({effective_rows('subscription_changes')}) as s "
        f"join ({effective_rows('plans')}) as p on p.plan_id = s.plan_id "
        f"join ({effective_rows('entities')}) as e on e.entity_id = s.entity_id",
        # an entity's currency is fixed once it has been invoiced: its closed periods are
        # re-rated at every close, and lines in a new currency would be set against amounts
        # issued in the old one (a new currency needs a new entity)
        f"select e.*, case when upper(trim(e.currency)) <> i.currency then 'entity ' "
        f"|| {_shown('e.entity_id')} || ' was invoiced in ' || i.currency || ' (invoice ' "
        f"|| i.invoice_number || '): its currency cannot change to ' "
        f"|| upper(trim(e.currency)) || ' (bill the new currency as a new entity)' end as rule "
        f"from ({effective_rows('entities')}) as e "
        f"join (select entity_id, max_by(currency, invoice_seq) as currency, "
        f"max_by(invoice_number, invoice_seq) as invoice_number "
        f"from billing.issued_invoices group by entity_id) as i on i.entity_id = e.entity_id",
        # a credit lot must expire after it is bought
        f"select *, case when {ts.format('expires_at')} <= {ts.format('purchased_at')} "
        f"then 'expires_at must be later than purchased_at' end as rule "
        f"from ({effective_rows('credit_purchases')})",
    ]
    return checks + _price_checks()


def _typed_prices() -> str:
    return "select * from typed_prices"


def _typed_prices_sql() -> str:
    dec = "try_cast(trim({0}) as decimal(38,12))"
    integer = "cast(regexp_replace(trim({0}), '\\.0*$', '') as bigint)"
    return (
        "select *, "
        "lower(trim(model)) as m, upper(trim(currency)) as cur, "
        "cast(trim(valid_from) as date) as vf, cast(trim(valid_to) as date) as vt, "
        f"coalesce({integer.format('tier_from')}, 0) as tf, {integer.format('tier_to')} as tt, "
        f"{dec.format('min_fee')} as min_d, {dec.format('max_fee')} as max_d "
        f"from ({effective_rows('event_prices')})"
    )


def _price_checks() -> list[str]:
    prices = _typed_prices()
    tiered = ", ".join(_lit(m) for m in TIERED_MODELS)
    needs = {
        "per_unit": ("unit_price",),
        "graduated": ("unit_price",),
        "volume": ("unit_price",),
        "package": ("unit_price", "package_size"),
        "percentage": ("percent",),
    }
    field_rules = " ".join(
        f"when m = {_lit(model)} and ({col} is null or trim({col}) = '') "
        f"then 'model {model} needs {col}'"
        for model, cols in needs.items() for col in cols
    )
    return [
        # fields each model needs, fee bounds, window
        f"select *, case {field_rules} "
        f"when min_d is not null and max_d is not null and min_d > max_d "
        f"then 'min_fee must not exceed max_fee' "
        f"when vt is not null and vt <= vf then 'valid_to must be later than valid_from' "
        f"end as rule from ({prices})",
        # every row of a price_id shares event_type, currency and model
        f"select *, case when event_type <> first_type or cur <> first_cur or m <> first_m "
        f"then 'rows of price_id ' || {_shown('price_id')} || ' disagree on event_type, "
        f"currency or model (first row: ' || first_path || ' row ' || first_row || ')' "
        f"end as rule from (select *, first_value(event_type) over w as first_type, "
        f"first_value(cur) over w as first_cur, first_value(m) over w as first_m, "
        f"first_value(_rel_path) over w as first_path, "
        f"first_value(_row_number) over w as first_row from ({prices}) "
        f"window w as (partition by price_id order by _rel_path, _row_number))",
        # rows of one version (price_id, valid_from) share valid_to
        f"select *, case when vt is distinct from first_value(vt) over w "
        f"then 'rows of price_id ' || {_shown('price_id')} || ' valid from ' || vf "
        f"|| ' disagree on valid_to' end as rule from ({prices}) "
        f"window w as (partition by price_id, vf order by _rel_path, _row_number)",
        # untiered models have one row per version
        f"select *, case when m not in ({tiered}) and row_number() over w > 1 "
        f"then 'price_id ' || {_shown('price_id')} || ' has several rows valid from ' || vf "
        f"|| ' but model ' || m || ' has no tiers' end as rule from ({prices}) "
        f"window w as (partition by price_id, vf order by _rel_path, _row_number)",
        # tiers chain from 0 with no gap or overlap; only the last tier is open
        f"select *, case "
        f"when prev_to is null and tf <> 0 then 'the first tier of price_id ' "
        f"|| {_shown('price_id')} || ' must start at tier_from 0' "
        f"when prev_to is not null and tf <> prev_to then 'tier_from ' || tf "
        f"|| ' of price_id ' || {_shown('price_id')} || ' must equal the previous tier_to ' "
        f"|| prev_to "
        f"when tt is not null and tt <= tf then 'tier_to must be greater than tier_from' "
        f"when tt is null and not is_last then 'only the last tier of price_id ' "
        f"|| {_shown('price_id')} || ' may have an empty tier_to' "
        f"when tt is not null and is_last then 'the last tier of price_id ' "
        f"|| {_shown('price_id')} || ' must have an empty tier_to (no upper bound)' "
        f"end as rule from (select *, lag(tt) over w as prev_to, "
        f"lead(tf) over w is null as is_last "
        f"from ({prices}) where m in ({tiered}) "
        f"window w as (partition by price_id, vf order by tf))",
        _overlap_check(prices),
    ]


def _overlap_check(prices: str) -> str:
    """Two price versions for one (event_type, currency) must not be valid on the same day.

    A version is a (price_id, valid_from); it is reported at its first row, and of two
    overlapping versions the one whose first row comes later is the one in error.
    """
    return (
        f"with versions as (select * from ({prices}) qualify row_number() over ("
        f"partition by price_id, vf order by _rel_path, _row_number) = 1) "
        f"select a.*, 'price_id ' || {_shown('a.price_id')} || ' valid from ' || a.vf "
        f"|| ' overlaps price_id ' || {_shown('b.price_id')} || ' valid from ' || b.vf "
        f"|| ' for event_type ' || {_shown('a.event_type')} || ' in ' || a.cur as rule "
        f"from versions as a join versions as b "
        f"on a.event_type = b.event_type and a.cur = b.cur "
        f"and (a.price_id <> b.price_id or a.vf <> b.vf) "
        f"and a.vf < coalesce(b.vt, date '9999-12-31') "
        f"and b.vf < coalesce(a.vt, date '9999-12-31') "
        f"and (a._rel_path > b._rel_path "
        f"or (a._rel_path = b._rel_path and a._row_number > b._row_number))"
    )


# --- entry point ---------------------------------------------------------------------------


def find_violation(con: duckdb.DuckDBPyConnection, load_id: int) -> Violation | None:
    """The first violation of the earliest failing pass, or None when the tables are valid."""
    passes = [
        [_cell_check(t) for t in REFERENCE_TABLES],
        [_duplicate_check(t, load_id) for t in REFERENCE_TABLES],
        _cross_checks(),
    ]
    for n, checks in enumerate(passes):
        found = _first(con, checks, with_effective=n == 2)
        if found is not None:
            return found
    return None


def check_reference_tables(
    con: duckdb.DuckDBPyConnection, load_id: int, raw_dir: Path
) -> None:
    """Raise ``InputError`` naming the file, row and rule of the first violation."""
    found = find_violation(con, load_id)
    if found is None:
        return
    file = found.rel_path
    if Path(found.raw_dir) != raw_dir:
        file = (Path(found.raw_dir) / found.rel_path).as_posix()
    raise InputError(file, found.row, found.rule)
