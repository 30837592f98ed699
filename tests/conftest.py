"""Shared pytest fixtures: real warehouse files in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing import warehouse as wh

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    """A fresh, bootstrapped DuckDB warehouse file."""
    path = tmp_path / "warehouse.duckdb"
    wh.connect(path).close()
    return path


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dbt target folder private to this pytest worker (parallel runs must not share one)."""
    return tmp_path_factory.mktemp("dbt_target")
