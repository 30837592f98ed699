"""Issued PDFs as files: each one checked against the sha256 recorded when it was issued.

An issued PDF never changes. `billing render` checks a period's files: one that differs from
what was issued is reported (restore it from a backup); one that is gone is drawn again from
the issued snapshot (the invoice as finalized, its bill-to included) and put back only if its
bytes are exactly those issued, which they are while the template, fonts and seller details are
those of the issue.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PdfCheck:
    """What the check found: lost files restored byte-identical, and files it cannot vouch for."""

    restored: list[str] = field(default_factory=list)  # invoice numbers
    changed: list[str] = field(default_factory=list)  # file differs from the issued sha256
    unrestorable: list[str] = field(default_factory=list)  # gone; a redraw would differ

    def problem(self) -> str | None:
        """One line for the user, or None when every issued PDF is as issued."""
        parts = []
        if self.changed:
            parts.append(f"{_listed(self.changed)} differ from what was issued (sha256)")
        if self.unrestorable:
            parts.append(f"{_listed(self.unrestorable)} are missing and would not be drawn "
                         "byte-identical again (the template, fonts or seller details changed)")
        if not parts:
            return None
        return ("issued PDFs " + "; ".join(parts)
                + ": restore them from a backup (an issued PDF is never redrawn differently)")


def _listed(numbers: list[str], shown: int = 5) -> str:
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return ", ".join(numbers[:shown]) + more


def check_issued_pdfs(
    issued: Sequence[tuple[str, str, str, str]],
    load_docs: Callable[[list[str]], list],
    out_dir: Path,
    *,
    workers: int | None = None,
) -> PdfCheck:
    """``issued``: (invoice_id, invoice_number, pdf_path, pdf_sha256) per issued PDF;
    ``load_docs``: the issued snapshot of the given invoices, as render_many takes them."""
    check, missing = PdfCheck(), []
    for invoice_id, number, path, sha in issued:
        file = Path(path)
        if not file.exists():
            missing.append((invoice_id, number, file, sha))
        elif hashlib.sha256(file.read_bytes()).hexdigest() != sha:
            check.changed.append(number)
    if not missing:
        return check
    from billing.pdf.render import render_many  # WeasyPrint: imported only when a file is gone

    docs = load_docs([m[0] for m in missing])
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".restore-", dir=out_dir))  # same disk: os.replace
    try:
        redrawn = {r.invoice_id: r for r in render_many(docs, scratch, workers=workers,
                                                        progress=False)}
        for invoice_id, number, file, sha in missing:
            result = redrawn[invoice_id]
            if result.sha256 == sha:
                file.parent.mkdir(parents=True, exist_ok=True)
                os.replace(result.path, file)
                check.restored.append(number)
            else:
                check.unrestorable.append(number)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return check
