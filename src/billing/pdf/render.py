"""Render invoice PDFs: one pure, deterministic function per invoice, and a fast batch runner.

* :func:`render_invoice` — one :class:`InvoiceDoc` to one PDF file, written atomically; returns
  the SHA-256 of the bytes. The same doc gives the same bytes (dates come from the invoice,
  the PDF identifier from the invoice number).
* :func:`render_batch` — a list of docs in the current process: the unit of work a Prefect /
  Dask task can run anywhere (it only needs the docs and an output folder).
* :func:`render_many` — the fast path: a process pool whose workers each parse the stylesheet
  and load the fonts once, then render many invoices with them, with a progress bar.

WeasyPrint only ever sees the project's templates folder through
:class:`~billing.pdf.fetcher.TemplateAssetFetcher`; Jinja autoescapes every value.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import multiprocessing
import os
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cssselect2
import jinja2
from weasyprint import CSS, HTML, _find_base_url
from weasyprint.document import Document
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError

from billing.errors import BillingError
from billing.paths import TEMPLATES_DIR
from billing.pdf.fetcher import FetchRefused, TemplateAssetFetcher
from billing.pdf.load import load_invoice_docs
from billing.pdf.model import Customer, InvoiceDoc, InvoiceLine, Seller, load_seller
from billing.pdf.view import build_view

__all__ = [
    "Customer", "InvoiceDoc", "InvoiceLine", "InvoiceRenderer", "RenderError", "RenderPool",
    "RenderResult",
    "Seller", "load_invoice_docs", "load_seller", "render_batch", "render_invoice",
    "render_many", "write_atomic",
]

TEMPLATE_NAME = "invoice.html.j2"
CSS_NAME = "invoice.css"

# WeasyPrint logs every missing glyph / unsupported property as a warning; the fetcher's
# refusals are raised, not logged, so nothing security-relevant is lost by quieting it.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class RenderResult:
    """One PDF written: what the caller stores (pdf_path, pdf_sha256) and the manifest lists."""

    invoice_id: str
    invoice_number: str
    path: Path
    sha256: str
    bytes: int
    pages: int


class RenderError(BillingError):
    """Some invoices of a batch failed; :attr:`results` holds the PDFs that were written."""

    def __init__(self, failures: list[tuple[str, str]], results: list[RenderResult]) -> None:
        self.failures, self.results = failures, results
        shown = "; ".join(f"{number}: {reason}" for number, reason in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} invoice PDF(s) failed: {shown}{more}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    A temporary file in the same folder is written, flushed and fsynced, then renamed over
    the target with :func:`os.replace`, and the folder entry is fsynced too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def make_jinja_env(templates_dir: Path) -> jinja2.Environment:
    """Autoescaping on for every template (not only by file extension), unknown names fail."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class InvoiceRenderer:
    """Renders invoices with caches that outlive one invoice.

    The stylesheet is parsed once, ``@font-face`` fonts are loaded once into one
    :class:`FontConfiguration`, images are decoded once (WeasyPrint's ``cache``), and the Jinja
    template is compiled once. Build one per process and reuse it.
    """

    def __init__(self, templates_dir: Path = TEMPLATES_DIR, template_name: str = TEMPLATE_NAME,
                 css_name: str = CSS_NAME) -> None:
        self.templates_dir = Path(templates_dir).resolve()
        self.base_url = self.templates_dir.as_uri() + "/"
        self.fetcher = TemplateAssetFetcher(self.templates_dir)
        self.template = make_jinja_env(self.templates_dir).get_template(template_name)
        self.font_config = FontConfiguration()
        self.image_cache: dict = {}
        self.css = CSS(url=self.base_url + css_name, url_fetcher=self.fetcher,
                       font_config=self.font_config)

    def html(self, doc: InvoiceDoc, *, link_css: bool = False) -> str:
        """The invoice as HTML. ``link_css`` adds a ``<link>`` to the stylesheet (for the
        naive path and for opening the HTML in a browser); the fast path passes the parsed
        stylesheet instead."""
        return self.template.render(v=build_view(doc), link_css=link_css)

    def parse(self, source: str) -> HTML:
        """The HTML document WeasyPrint lays out, parsed the fast way when possible.

        The template writes well-formed XHTML (void elements self-closed, every value
        escaped), so the C XML parser builds the very tree that WeasyPrint's pure-Python
        HTML5 parser would, in a few percent of its time (the PDFs are byte-identical; the
        tests and the benchmark compare them). Text the XML parser refuses (e.g. a control
        character in a name) falls back to the HTML5 parser.
        """
        try:
            root = ElementTree.fromstring(source)
        except ElementTree.ParseError:
            return HTML(string=source, base_url=self.base_url, url_fetcher=self.fetcher)
        html = HTML.__new__(HTML)
        html.base_url = _find_base_url(root, self.base_url)
        html.url_fetcher = self.fetcher
        html.media_type = "print"
        html.wrapper_element = cssselect2.ElementWrapper.from_html_root(
            root, content_language=None)
        html.etree_element = html.wrapper_element.etree_element
        return html

    def document(self, doc: InvoiceDoc) -> Document:
        """The laid-out pages (useful to inspect boxes in tests)."""
        doc.check()
        html = self.parse(self.html(doc))
        try:
            return html.render(font_config=self.font_config, stylesheets=[self.css],
                               cache=self.image_cache)
        except FatalURLFetchingError as exc:
            raise _refusal(exc) from exc

    def pdf(self, doc: InvoiceDoc) -> tuple[bytes, int]:
        """The PDF bytes and the page count."""
        document = self.document(doc)
        return document.write_pdf(**pdf_options(doc)), len(document.pages)

    def render(self, doc: InvoiceDoc, out_path: Path) -> RenderResult:
        data, pages = self.pdf(doc)
        write_atomic(out_path, data)
        return RenderResult(doc.invoice_id, doc.invoice_number, Path(out_path),
                            hashlib.sha256(data).hexdigest(), len(data), pages)


def pdf_options(doc: InvoiceDoc) -> dict:
    """WeasyPrint PDF options that make the output a function of the invoice only."""
    identifier = hashlib.sha256(f"invoice:{doc.invoice_id}".encode()).hexdigest()[:32]
    return {"pdf_identifier": identifier.encode(), "uncompressed_pdf": False,
            "custom_metadata": False}


def _refusal(exc: BaseException) -> BillingError:
    cause = exc.__cause__
    if isinstance(cause, FetchRefused):
        return cause
    return BillingError(f"invoice template: {exc}")


@cache
def _process_renderer(templates_dir: Path = TEMPLATES_DIR) -> InvoiceRenderer:
    """The renderer of this process (built on first use, then reused)."""
    return InvoiceRenderer(templates_dir)


def render_invoice(doc: InvoiceDoc, out_path: Path | str) -> str:
    """Render one invoice to ``out_path`` (atomically) and return the PDF's SHA-256."""
    return _process_renderer().render(doc, Path(out_path)).sha256


def render_batch(docs: Sequence[InvoiceDoc], out_dir: Path | str,
                 templates_dir: Path = TEMPLATES_DIR) -> list[RenderResult | str]:
    """Render docs in this process into ``out_dir/<invoice number>.pdf``.

    Returns, per doc, its :class:`RenderResult` or the reason it failed. This is the
    independent unit of work for a task runner: its inputs are picklable and it writes only
    its own files.
    """
    renderer = _process_renderer(Path(templates_dir).resolve())
    out: list[RenderResult | str] = []
    # Files are written (and fsynced) by one thread while the next invoice is laid out:
    # fsync waits on the disk with the GIL released, so the CPU keeps rendering.
    with ThreadPoolExecutor(1, thread_name_prefix="pdf-writer") as writer:
        writes: list[Future] = []
        for doc in docs:
            try:
                data, pages = renderer.pdf(doc)
            except BillingError as exc:
                out.append(str(exc))
                continue
            path = Path(out_dir) / doc.file_name
            writes.append(writer.submit(write_atomic, path, data))
            out.append(RenderResult(doc.invoice_id, doc.invoice_number, path,
                                    hashlib.sha256(data).hexdigest(), len(data), pages))
        for write in writes:
            write.result()  # a failed write fails the batch, as a synchronous one would
    return out


_SUBSETS: dict[tuple, bytes] = {}
_SUBSETS_MAX = 512


def _cache_font_subsets() -> None:
    """Make WeasyPrint reuse font subsets across the documents of this process.

    When a PDF is written, each embedded font is cut down to the glyphs the document uses
    (HarfBuzz subsetting, then compression: ~5 % of a one-page invoice). Invoices of one
    batch mostly use the same glyphs, so the subset of (font file, glyph set, options) is
    kept; the function is deterministic, so the PDF bytes are the same as without the cache.
    Installed in pool workers only (the naive benchmark loop in the parent stays untouched).
    """
    from weasyprint.pdf.fonts import Font

    original = Font.subset
    if getattr(original, "billing_cached", False):
        return

    def subset(self: Font, to_unicode: dict, hinting: bool) -> None:
        if not to_unicode:
            return
        key = (self.hash, frozenset(to_unicode), bool(hinting), bool(self.missing))
        content = _SUBSETS.get(key)
        if content is None:
            original(self, to_unicode, hinting)
            if len(_SUBSETS) >= _SUBSETS_MAX:
                _SUBSETS.clear()
            _SUBSETS[key] = content = self.file_content
        self.file_content = content

    subset.billing_cached = True  # type: ignore[attr-defined]
    Font.subset = subset  # type: ignore[method-assign]


def _warm(templates_dir: Path) -> None:
    """Pool initializer: build the caches, then keep the collector off the long-lived objects.

    A render allocates some hundred thousand short-lived objects; the cyclic collector would
    otherwise rescan the warm caches (fonts, stylesheet, UA sheet) over and over.
    ``gc.freeze`` moves everything alive now out of its reach, and raised thresholds let it
    run less often on the garbage of each render (nothing leaks: it still runs).
    """
    _process_renderer(templates_dir)
    _cache_font_subsets()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _render_chunk(docs: Sequence[InvoiceDoc], out_dir: Path | str,
                  templates_dir: Path) -> tuple[list[RenderResult | str], float]:
    """A pool task: render a chunk, then collect the cycles its renders left behind.

    Returns the outcomes and the CPU seconds this worker spent on them (for the benchmark).
    """
    cpu_start = time.process_time()
    gc.disable()
    try:
        return render_batch(docs, out_dir, templates_dir), time.process_time() - cpu_start
    finally:
        gc.enable()
        gc.collect(0)


def _chunks(items: Sequence[InvoiceDoc], size: int) -> Iterator[Sequence[InvoiceDoc]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _progress_bar(total: int) -> tuple[object, Callable[[int], None]]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)  # stdout stays for the command's own output
    if not console.is_terminal:
        # a live bar is for a person at a terminal; in a log or a pipe stderr stays for errors
        return None, lambda n: None
    progress = Progress(
        TextColumn("[bold]Rendering invoice PDFs"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), transient=False, console=console,
    )
    task = progress.add_task("render", total=total)
    return progress, lambda n: progress.advance(task, n)


def _check_names(docs: Sequence[InvoiceDoc], out_dir: Path) -> None:
    names = [doc.file_name for doc in docs]
    if len(set(names)) != len(names):
        raise BillingError(f"{out_dir}: two invoices of this batch share an invoice number")


def _finish(docs: Sequence[InvoiceDoc], outcomes: list[RenderResult | str]
            ) -> list[RenderResult]:
    results = [item for item in outcomes if isinstance(item, RenderResult)]
    failures = [
        (doc.invoice_number, item)
        for doc, item in zip(docs, outcomes, strict=True)
        if isinstance(item, str)
    ]
    if failures:
        raise RenderError(failures, results)
    return results


class RenderPool:
    """Worker processes with warm caches, reusable for several batches.

    ``with RenderPool(2) as pool: pool.render(docs, out_dir)``. Each worker (``forkserver``:
    no fork of a parent that may run threads, such as Prefect or the progress bar) imports
    WeasyPrint once and keeps its stylesheet, fonts, images and template for every batch the
    pool renders. :attr:`cpu_seconds` adds up the CPU time the workers spent rendering.
    """

    def __init__(self, workers: int | None = None, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.templates_dir = Path(templates_dir).resolve()
        self.cpu_seconds = 0.0
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> RenderPool:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["billing.pdf.render"])
        self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_warm,
                                             initargs=(self.templates_dir,))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def render(self, docs: Sequence[InvoiceDoc], out_dir: Path | str,
               progress: bool | Callable[[int], None] = True,
               chunk_size: int | None = None) -> list[RenderResult]:
        """Like :func:`render_many`, on this pool's workers. ``progress`` may also be a
        callback told how many more invoices are done (to drive a caller's own bar)."""
        if self._executor is None:
            raise BillingError("RenderPool.render called outside its `with` block")
        docs = list(docs)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _check_names(docs, out_dir)
        # Small chunks keep the bar moving and the workers balanced; each chunk is one pickle.
        # Small enough that the last chunks end together (no worker idles long at the end).
        size = chunk_size or max(1, min(8, len(docs) // (self.workers * 8)))
        bar, advance = (
            (None, progress) if callable(progress)
            else _progress_bar(len(docs)) if progress else (None, lambda n: None)
        )
        slots: dict[Future, int] = {}
        batches: list[list[RenderResult | str]] = [[] for _ in range(0, len(docs), size)]
        try:
            if bar is not None:
                bar.start()  # type: ignore[attr-defined]
            for index, chunk in enumerate(_chunks(docs, size)):
                future = self._executor.submit(_render_chunk, chunk, out_dir, self.templates_dir)
                slots[future] = index
            pending = set(slots)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    batch, cpu = future.result()
                    batches[slots[future]] = batch
                    self.cpu_seconds += cpu
                    advance(len(batch))
        finally:
            if bar is not None:
                bar.stop()  # type: ignore[attr-defined]
        return _finish(docs, [item for batch in batches for item in batch])


def render_many(docs: Sequence[InvoiceDoc], out_dir: Path | str, workers: int | None = None,
                progress: bool = True, templates_dir: Path = TEMPLATES_DIR,
                chunk_size: int | None = None) -> list[RenderResult]:
    """Render every doc into ``out_dir`` (one PDF per invoice, named by invoice number).

    Uses a :class:`RenderPool` of ``workers`` processes (default: one per CPU) whose caches stay
    warm across invoices; with one worker or a handful of docs it renders in this process.
    Results come back in the order of ``docs``. Nothing is skipped: the caller chooses which
    invoices need a PDF. If any invoice fails, the others are still written and
    :class:`RenderError` is raised with the failures and the results.
    """
    docs = list(docs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_names(docs, out_dir)
    templates_dir = Path(templates_dir).resolve()
    workers = max(1, workers or os.cpu_count() or 1)
    workers = min(workers, max(1, len(docs) // 4))
    if workers > 1:
        with RenderPool(workers, templates_dir) as pool:
            return pool.render(docs, out_dir, progress=progress, chunk_size=chunk_size)
    outcomes: list[RenderResult | str] = []
    bar, advance = _progress_bar(len(docs)) if progress else (None, lambda n: None)
    try:
        if bar is not None:
            bar.start()  # type: ignore[attr-defined]
        for chunk in _chunks(docs, 8):
            outcomes.extend(render_batch(chunk, out_dir, templates_dir))
            advance(len(chunk))
    finally:
        if bar is not None:
            bar.stop()  # type: ignore[attr-defined]
    return _finish(docs, outcomes)
