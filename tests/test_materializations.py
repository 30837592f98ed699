"""The lean view/table materializations (macros/materializations.sql), on a real warehouse.

raw_basic is loaded with the real loader and the close's build (``pipeline.CLOSE_BUILD``) runs
twice in one process, as a close on an already-built warehouse does. Checked: every model
exists as the kind dbt's manifest says (view, table; incremental and Python models are tables);
a rebuild replaces every table (rows slipped into one are gone, counts are unchanged) and leaves
no ``__dbt_tmp``/``__dbt_backup`` relation behind; a model whose name is held by the other kind
(a view where a table belongs, a table where a view belongs, a view where a Python model's table
belongs) is replaced by the right kind; a replace that fails keeps the old table, rows and all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from billing import warehouse as wh
from billing.dbt import DbtError, run_dbt
from billing.inputs.load import load_raw_dir
from billing.pipeline import CLOSE_BUILD

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"
VARS = {"as_of": "2026-11-15T00:00:00Z", "through_period": "2026-10"}
#: information_schema.tables.table_type per dbt materialization
KIND = {"view": "VIEW", "table": "BASE TABLE", "incremental": "BASE TABLE"}
SCHEMAS = ("main", "staging", "intermediate", "reference")
TIERS = ("intermediate", "int_price_tiers")
UNIT_COUNTS = ("intermediate", "int_event_unit_counts")
PLANS = ("staging", "stg_plans")
#: models the fixture fills (a rebuild that lost their rows would go unnoticed otherwise)
CHECKED_NON_EMPTY = (TIERS, UNIT_COUNTS, PLANS, ("main", "invoices"), ("main", "invoice_lines"))


def _relations(path: Path) -> dict[tuple[str, str], str]:
    """(schema, name) -> table_type of every relation in the dbt-built schemas."""
    con = duckdb.connect(str(path))
    try:
        rows = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            f"where table_schema in {SCHEMAS}"
        ).fetchall()
    finally:
        con.close()
    return {(schema, name): kind for schema, name, kind in rows}


def _row_counts(path: Path, relations: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    con = duckdb.connect(str(path))
    try:
        return {
            (s, n): con.execute(f'select count(*) from "{s}"."{n}"').fetchone()[0]
            for s, n in relations
        }
    finally:
        con.close()


def _execute(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_target_materializations")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, target: Path) -> dict[str, Any]:
    """raw_basic loaded and the close's build run twice; what each build left behind.

    Between the builds a row is slipped into a table model: a rebuild that really replaces the
    table drops it.
    """
    path = tmp_path_factory.mktemp("materializations") / "warehouse.duckdb"
    con = wh.connect(path)
    load_raw_dir(con, FIXTURE)
    con.close()
    run_dbt(CLOSE_BUILD, path, vars=VARS, target_path=target, quiet=True)
    manifest = json.loads((target / "manifest.json").read_text())
    models = {
        (node["schema"], node["alias"]): (node["config"]["materialized"], node["language"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["enabled"]
    }
    first = _relations(path)
    counts = _row_counts(path, sorted(models))
    _execute(
        path,
        "insert into intermediate.int_price_tiers by name "
        "select * from intermediate.int_price_tiers limit 1",
    )
    assert _row_counts(path, [TIERS])[TIERS] == counts[TIERS] + 1
    run_dbt(CLOSE_BUILD, path, vars=VARS, target_path=target, quiet=True)
    return {
        "path": path,
        "models": models,
        "first": first,
        "counts": counts,
        "second": _relations(path),
        "second_counts": _row_counts(path, sorted(models)),
    }


def test_every_model_is_built_as_its_kind(built: dict[str, Any]) -> None:
    models = built["models"]
    kinds = {materialized for materialized, _ in models.values()}
    languages = {language for _, language in models.values()}
    # the project exercises every path of the macro (and incremental, which it leaves alone)
    assert {"view", "table", "incremental"} <= kinds and languages == {"sql", "python"}
    for relations in (built["first"], built["second"]):
        for key, (materialized, _) in models.items():
            assert relations.get(key) == KIND[materialized], (key, materialized)


def test_rebuild_replaces_tables_and_leaves_nothing_behind(built: dict[str, Any]) -> None:
    assert built["second"] == built["first"]
    con = duckdb.connect(str(built["path"]))
    try:
        leftovers = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where contains(table_name, '__dbt_tmp') or contains(table_name, '__dbt_backup')"
        ).fetchall()
    finally:
        con.close()
    assert leftovers == []
    # the slipped-in row is gone: int_price_tiers was replaced, not kept
    assert built["second_counts"] == built["counts"]
    assert all(n > 0 for key, n in built["counts"].items() if key in CHECKED_NON_EMPTY)


def test_other_kind_under_a_models_name_is_replaced(
    built: dict[str, Any], target: Path, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built["path"], path)
    _execute(
        path,
        # a view where a table belongs (SQL and Python models), a table where a view belongs
        "drop table intermediate.int_price_tiers",
        "create view intermediate.int_price_tiers as select 1 as x",
        "drop table intermediate.int_event_unit_counts",
        "create view intermediate.int_event_unit_counts as select 1 as x",
        "drop view staging.stg_plans",
        "create table staging.stg_plans as select 1 as x",
    )
    switched = [TIERS, UNIT_COUNTS, PLANS]
    run_dbt(
        ["run", "--select", *(name for _, name in switched)],
        path,
        vars=VARS,
        target_path=target,
        quiet=True,
    )
    relations = _relations(path)
    assert [relations[key] for key in switched] == ["BASE TABLE", "BASE TABLE", "VIEW"]
    counts = _row_counts(path, switched)
    assert counts == {key: built["counts"][key] for key in switched}


def test_failed_replace_keeps_the_old_table(
    built: dict[str, Any], target: Path, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built["path"], path)
    # int_price_tiers reads stg_event_prices: with its columns gone the replace cannot bind
    _execute(path, "create or replace view staging.stg_event_prices as select 1 as x")
    with pytest.raises(DbtError, match="int_price_tiers"):
        run_dbt(
            ["run", "--select", "int_price_tiers"], path, vars=VARS, target_path=target, quiet=True
        )
    assert _relations(path)[TIERS] == "BASE TABLE"
    assert _row_counts(path, [TIERS]) == {TIERS: built["counts"][TIERS]}
