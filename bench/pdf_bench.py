"""Invoice PDF throughput: the naive way against billing.pdf's fast path, interleaved in one run.

Naive: one process; per invoice, the template is rendered to HTML that links the stylesheet,
and ``HTML(string=...).write_pdf()`` is called (WeasyPrint then parses the HTML and the CSS,
loads the fonts and lays out the page from scratch each time), and the file is written like
the fast path writes it. Fast: a :class:`billing.pdf.RenderPool` (what ``render_many`` uses:
one warm worker process per CPU). Both use the same template, the same sample invoices (one
page each) and the same PDF options, and the bench checks that they give the same bytes.

The invoices are cut into blocks run in the order naive, fast, fast, naive, naive, fast, ...
so that a change of machine load (other jobs) hits both methods alike. The pool is started
once, inside the first fast block (its start-up is counted, as in one ``render_many`` call).
CPU figures: the naive loop's own CPU time; the workers' rendering CPU time plus this
process's CPU time during the fast blocks.

    .venv/bin/python bench/pdf_bench.py -n 1000     # 1,000 invoices each way
    .venv/bin/python bench/pdf_bench.py --quick     # 80 invoices each way
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
from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from weasyprint import HTML  # noqa: E402

from billing.pdf.fetcher import TemplateAssetFetcher  # noqa: E402
from billing.pdf.model import load_seller  # noqa: E402
from billing.pdf.render import (  # noqa: E402
    InvoiceRenderer,
    RenderPool,
    pdf_options,
    write_atomic,
)
from billing.pdf.samples import bench_doc  # noqa: E402


def naive(docs: list, out_dir: Path, html_maker: InvoiceRenderer, advance) -> None:
    """One HTML document and one write_pdf per invoice, nothing reused but the Jinja template."""
    for doc in docs:
        html = HTML(string=html_maker.html(doc, link_css=True), base_url=html_maker.base_url,
                    url_fetcher=TemplateAssetFetcher(html_maker.templates_dir))
        write_atomic(out_dir / doc.file_name, html.write_pdf(**pdf_options(doc)))
        advance(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="invoices per method (default 1000)")
    parser.add_argument("--quick", action="store_true", help="80 invoices per method")
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: CPUs)")
    parser.add_argument("--blocks", type=int, default=8,
                        help="interleaved blocks per method (default 8)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="keep the PDFs in this folder")
    args = parser.parse_args()
    n = 80 if args.quick else args.n
    seller = load_seller()
    docs = [bench_doc(i, seller) for i in range(n)]
    blocks = max(1, min(args.blocks, n))
    size = -(-n // blocks)
    parts = [docs[i:i + size] for i in range(0, n, size)]
    root = Path(tempfile.mkdtemp(prefix="pdf_bench_")) if args.keep is None else args.keep
    (root / "naive").mkdir(parents=True, exist_ok=True)
    (root / "fast").mkdir(parents=True, exist_ok=True)
    workers = args.workers or os.cpu_count() or 1
    print(f"{n} one-page invoices, {os.cpu_count()} CPUs, {workers} workers, {len(parts)} "
          f"interleaved blocks per method, load average {os.getloadavg()[0]:.1f}", flush=True)
    progress = Progress(TextColumn("[bold]{task.description:>5}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), disable=args.no_progress)
    task_naive = progress.add_task("naive", total=n)
    task_fast = progress.add_task("fast", total=n)
    wall = {"naive": 0.0, "fast": 0.0}
    cpu = {"naive": 0.0, "fast": 0.0}
    html_maker = InvoiceRenderer()
    try:
        with progress, RenderPool(workers) as pool:
            for index, part in enumerate(parts):
                # naive, fast | fast, naive | naive, fast | ...
                order = ("naive", "fast") if index % 2 == 0 else ("fast", "naive")
                for method in order:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    if method == "naive":
                        naive(part, root / "naive", html_maker,
                              lambda k: progress.advance(task_naive, k))
                    else:
                        pool.render(part, root / "fast",
                                    progress=lambda k: progress.advance(task_fast, k))
                    wall[method] += time.perf_counter() - start
                    cpu[method] += time.process_time() - cpu_start
            cpu["fast"] += pool.cpu_seconds
        rate = {method: n / seconds for method, seconds in wall.items()}
        for method in ("naive", "fast"):
            print(f"{method + ':':6} {wall[method]:7.2f} s  {rate[method]:6.1f} invoices/s  "
                  f"CPU {1000 * cpu[method] / n:5.1f} ms/invoice")
        sampled = docs[:: max(1, n // 20)]
        pages = {len(PdfReader(root / "fast" / d.file_name).pages) for d in sampled}
        same = sum(
            (root / "naive" / d.file_name).read_bytes()
            == (root / "fast" / d.file_name).read_bytes()
            for d in docs
        )
        print(f"pages per invoice (sampled): {sorted(pages)}; identical bytes naive vs fast: "
              f"{same}/{n}")
        print(f"ratio fast/naive: {rate['fast'] / rate['naive']:.2f}x wall clock; "
              f"CPU per invoice {cpu['naive'] / cpu['fast']:.2f}x less "
              f"(load average now {os.getloadavg()[0]:.1f})")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
