"""Run a statement to completion on a DuckDB connection.

DuckDB 2.0 refuses further work (``register``, ...) on a connection whose last result was not
fetched to the end; every statement the loader runs is therefore fetched completely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

Params = Sequence[object] | Mapping[str, object] | None


def run(con: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> list[tuple]:
    """Execute ``sql`` and return all its rows."""
    result = con.execute(sql, params) if params else con.execute(sql)
    return result.fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> object:
    """The first column of the first row of ``sql`` (None when it returns no row)."""
    rows = run(con, sql, params)
    return rows[0][0] if rows else None
