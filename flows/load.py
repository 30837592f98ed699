"""Prefect flow: load a raw folder into the warehouse."""

from __future__ import annotations

from prefect import flow, task

from billing import pipeline


@task(name="load raw folder", retries=0)
def load_task(warehouse: str, raw_dir: str):
    return pipeline.load(warehouse, raw_dir)


@task(name="parse new events", retries=0)
def stage_task(warehouse: str):
    return pipeline.stage(warehouse)


@task(name="queue payment webhooks", retries=0)
def payment_webhooks_task(warehouse: str) -> int:
    return pipeline.queue_payment_webhooks(warehouse)


@flow(name="billing-load", log_prints=False)
def load_flow(warehouse: str, raw_dir: str):
    """Read every table of ``raw_dir`` into the warehouse (incremental and idempotent), then
    parse the new event rows once (base_marketplace_events), so a close finds them parsed, and
    queue the webhooks new payments rows trigger (failed payments of issued invoices)."""
    summary = load_task(warehouse, raw_dir)
    stage_task(warehouse)
    summary.webhooks_queued = payment_webhooks_task(warehouse)
    return summary
