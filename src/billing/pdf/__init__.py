"""Invoice PDFs: load what an invoice shows, render it deterministically, list it in a manifest.

The close flow and ``billing render`` call, in order::

    docs = load_invoice_docs(con, invoice_ids)          # from the marts
    results = render_many(docs, pdf_dir(warehouse, period))
    write_manifest(pdf_dir(warehouse, period), period, results)
    # then store result.path / result.sha256 on each invoice row
"""

from billing.pdf.load import load_invoice_docs
from billing.pdf.manifest import read_manifest, write_manifest
from billing.pdf.model import Customer, InvoiceDoc, InvoiceLine, Seller, load_seller
from billing.pdf.render import (
    InvoiceRenderer,
    RenderError,
    RenderPool,
    RenderResult,
    render_batch,
    render_invoice,
    render_many,
)

__all__ = [
    "Customer", "InvoiceDoc", "InvoiceLine", "InvoiceRenderer", "RenderError", "RenderPool",
    "RenderResult", "Seller", "load_invoice_docs", "load_seller", "read_manifest",
    "render_batch", "render_invoice", "render_many", "write_manifest",
]
