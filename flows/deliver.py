"""Prefect flow: send the pending webhooks of the outbox."""

from __future__ import annotations

from prefect import flow, task

from billing import pipeline


@task(name="deliver webhooks")
def deliver_task(warehouse: str, options: dict):
    return pipeline.deliver(warehouse, **options)


@flow(name="billing-deliver", log_prints=False)
def deliver_flow(warehouse: str, options: dict):
    """Signed (Standard Webhooks), concurrent, retried with backoff; dead after N attempts."""
    return deliver_task(warehouse, options)
