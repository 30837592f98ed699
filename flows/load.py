"""Prefect flow: load a raw folder into the warehouse."""

from __future__ import annotations

from prefect import flow, task

from billing import pipeline


@task(name="load raw folder", retries=0)
def load_task(warehouse: str, raw_dir: str):
    return pipeline.load(warehouse, raw_dir)


@flow(name="billing-load", log_prints=False)
def load_flow(warehouse: str, raw_dir: str):
    """Read every table of ``raw_dir`` into the warehouse: incremental and idempotent."""
    return load_task(warehouse, raw_dir)
