"""Prefect flow: the demo — generate data, load it, close the latest full period."""

from __future__ import annotations

from prefect import flow, task

from billing import pipeline
from flows.close import run_close


@task(name="generate sample data")
def generate_task(out_dir: str, entities: int, events: int, months: int, seed: int):
    return pipeline.generate(out_dir, entities=entities, events=events, months=months, seed=seed)


@flow(name="billing-demo", log_prints=False)
def demo_flow(
    warehouse: str, out_dir: str, entities: int, events: int, months: int, seed: int,
    period: str, as_of: str | None = None,
):
    generated = generate_task(out_dir, entities, events, months, seed)
    report = run_close(warehouse, period, raw_dir=out_dir, as_of=as_of, tasks=True)
    return generated, report
