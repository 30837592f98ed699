"""Where the project's files live: the repository is the dbt project."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root: it holds dbt_project.yml, models/, templates/ and flows/.
PROJECT_DIR = Path(os.environ.get("BILLING_PROJECT_DIR", Path(__file__).resolve().parents[2]))
TEMPLATES_DIR = PROJECT_DIR / "templates"
DEFAULT_WAREHOUSE = Path(
    os.environ.get("BILLING_WAREHOUSE", PROJECT_DIR / "data" / "warehouse.duckdb")
)


def warehouse_home(warehouse: Path) -> Path:
    """The folder beside a warehouse file that holds its PDFs, manifests and outbox dumps."""
    warehouse = Path(warehouse).resolve()
    return warehouse.parent / f"{warehouse.stem}_files"


def pdf_dir(warehouse: Path, period: str) -> Path:
    return warehouse_home(warehouse) / "invoices" / period
