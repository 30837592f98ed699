"""The per-period manifest: which PDFs a period has, with their SHA-256, size and page count.

``<out_dir>/manifest.json`` is rewritten (atomically) after each render of the period. Entries
are keyed by invoice number: a later render adds its invoices and keeps the others, so a close
run with ``--skip-pdf`` followed by ``billing render`` ends with one complete manifest. The file
holds no timestamps, so the same PDFs give the same manifest bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from billing.errors import BillingError
from billing.pdf.render import RenderResult, write_atomic

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


def read_manifest(out_dir: Path | str) -> dict:
    path = Path(out_dir) / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BillingError(f"{path}: unreadable manifest ({exc})") from exc


def write_manifest(out_dir: Path | str, period: str, results: Iterable[RenderResult]) -> Path:
    """Write ``out_dir/manifest.json`` for ``period``, merging with the entries already there."""
    out_dir = Path(out_dir)
    previous = read_manifest(out_dir)
    if previous and previous.get("period") != period:
        raise BillingError(
            f"{out_dir / MANIFEST_NAME}: holds period {previous.get('period')!r}, not {period!r}"
        )
    entries = {entry["invoice_number"]: entry for entry in previous.get("invoices", [])}
    for result in results:
        path = Path(result.path)
        if path.parent.resolve() != out_dir.resolve():
            raise BillingError(f"{path}: not in the period's folder {out_dir}")
        entries[result.invoice_number] = {
            "invoice_number": result.invoice_number,
            "invoice_id": result.invoice_id,
            "file": path.name,
            "sha256": result.sha256,
            "bytes": result.bytes,
            "pages": result.pages,
        }
    manifest = {
        "format": FORMAT_VERSION,
        "period": period,
        "invoice_count": len(entries),
        "invoices": [entries[number] for number in sorted(entries)],
    }
    target = out_dir / MANIFEST_NAME
    write_atomic(target, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    return target
