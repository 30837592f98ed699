"""Invoice PDF throughput: the naive way against billing.pdf.render_many, in one run.

Naive: one process; per invoice, the template is rendered to HTML that links the stylesheet,
and ``HTML(...).write_pdf()`` is called (WeasyPrint then parses the CSS, loads the fonts and
lays out the page from scratch each time). Fast: :func:`billing.pdf.render_many` (process pool,
stylesheet and fonts parsed once per worker, caches kept warm). Both use the same template,
the same sample invoices (one page each) and the same PDF options.

    .venv/bin/python bench/pdf_bench.py            # 1,000 invoices each way
    .venv/bin/python bench/pdf_bench.py --quick    # 60 invoices each way
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pypdf import PdfReader  # noqa: E402
from weasyprint import HTML  # noqa: E402

from billing.paths import TEMPLATES_DIR  # noqa: E402
from billing.pdf.fetcher import TemplateAssetFetcher  # noqa: E402
from billing.pdf.model import load_seller  # noqa: E402
from billing.pdf.render import (  # noqa: E402
    InvoiceRenderer,
    _render_chunk,
    _warm,
    pdf_options,
    render_many,
    write_atomic,
)
from billing.pdf.samples import bench_doc  # noqa: E402


def naive(docs: list, out_dir: Path) -> float:
    """One HTML document and one write_pdf per invoice, nothing reused but the Jinja template."""
    html_maker = InvoiceRenderer()
    start = time.perf_counter()
    for doc in docs:
        html = HTML(string=html_maker.html(doc, link_css=True), base_url=html_maker.base_url,
                    url_fetcher=TemplateAssetFetcher(html_maker.templates_dir))
        write_atomic(out_dir / doc.file_name, html.write_pdf(**pdf_options(doc)))
    return time.perf_counter() - start


def warm_one_process(docs: list, out_dir: Path) -> float:
    """CPU seconds of the fast path's per-worker loop, run here in one process (no pool)."""
    _warm(TEMPLATES_DIR)  # what each pool worker does first
    start = time.process_time()
    for index in range(0, len(docs), 8):
        _render_chunk(docs[index:index + 8], out_dir, TEMPLATES_DIR)
    return time.process_time() - start


def fast(docs: list, out_dir: Path, workers: int | None, progress: bool) -> float:
    start = time.perf_counter()
    render_many(docs, out_dir, workers=workers, progress=progress)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="invoices per method (default 1000)")
    parser.add_argument("--quick", action="store_true", help="60 invoices per method")
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: CPUs)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--cpu", action="store_true",
                        help="also measure the warm worker loop's CPU time per invoice")
    parser.add_argument("--keep", type=Path, default=None, help="keep the PDFs in this folder")
    args = parser.parse_args()
    n = 60 if args.quick else args.n
    seller = load_seller()
    docs = [bench_doc(i, seller) for i in range(n)]
    root = Path(tempfile.mkdtemp(prefix="pdf_bench_")) if args.keep is None else args.keep
    try:
        (root / "naive").mkdir(parents=True, exist_ok=True)
        (root / "fast").mkdir(parents=True, exist_ok=True)
        print(f"{n} one-page invoices, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        cpu_start = time.process_time()
        t_naive = naive(docs, root / "naive")
        cpu_naive = time.process_time() - cpu_start
        print(f"naive: {t_naive:7.2f} s  {n / t_naive:7.1f} invoices/s  "
              f"(CPU {1000 * cpu_naive / n:.0f} ms/invoice)", flush=True)
        t_fast = fast(docs, root / "fast", args.workers, not args.no_progress)
        print(f"fast:  {t_fast:7.2f} s  {n / t_fast:7.1f} invoices/s  "
              f"({args.workers or os.cpu_count()} worker processes)", flush=True)
        sampled = docs[:: max(1, n // 20)]
        pages = {len(PdfReader(root / "fast" / d.file_name).pages) for d in sampled}
        same = sum(
            (root / "naive" / d.file_name).read_bytes()
            == (root / "fast" / d.file_name).read_bytes()
            for d in docs
        )
        print(f"pages per invoice (sampled): {sorted(pages)}; identical bytes naive vs fast: "
              f"{same}/{n}")
        print(f"ratio fast/naive: {t_naive / t_fast:.2f}x (wall clock, same run)")
        if args.cpu:
            (root / "warm").mkdir(exist_ok=True)
            cpu_warm = warm_one_process(docs, root / "warm")
            print(f"CPU per invoice: naive {1000 * cpu_naive / n:.0f} ms, warm worker "
                  f"{1000 * cpu_warm / n:.0f} ms ({cpu_naive / cpu_warm:.2f}x per core); "
                  f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
