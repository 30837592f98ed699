"""Invoice PDFs: real renders read back with pypdf, from a real DuckDB warehouse file.

Renders are shared: one pool batch (four invoices from the warehouse), one 1,000-line invoice,
one long-name layout, and a few small renders for determinism and the fetcher.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import threading
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from pypdf import PdfReader

from billing.errors import BillingError
from billing.money import format_money, format_quantity, format_unit_price, quantize
from billing.paths import TEMPLATES_DIR
from billing.pdf import (
    InvoiceDoc,
    InvoiceLine,
    InvoiceRenderer,
    load_invoice_docs,
    load_seller,
    read_manifest,
    render_invoice,
    render_many,
    write_manifest,
)
from billing.pdf.fetcher import FetchRefused, TemplateAssetFetcher
from billing.pdf.model import Customer
from billing.pdf.render import pdf_options, write_atomic
from billing.pdf.samples import jpy_sample, long_sample, make_doc, usd_sample

INJECTION_NAME = '<img src="file:///etc/passwd"> Evil & Co {{ 7*7 }}'
INJECTION_ADDRESS = "{% raw %}{{ config }}{% endraw %}\n<script>alert(1)</script>"


def text_of(path_or_reader) -> str:
    reader = path_or_reader if isinstance(path_or_reader, PdfReader) else PdfReader(path_or_reader)
    return "\n".join(page.extract_text() for page in reader.pages)


def squash(text: str) -> str:
    """Whitespace-free text: wrapped lines and words split by the layout compare equal."""
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- money


def test_money_formats_per_currency() -> None:
    assert format_money(Decimal("-1234.5"), "USD") == "-$1,234.50"
    assert format_money(Decimal("12345.5"), "JPY") == "¥12,346"  # half away from zero
    assert format_money(Decimal("-0.5"), "JPY") == "-¥1"
    assert format_money(Decimal("1.2345"), "KWD") == "KD 1.235"
    assert format_money(Decimal("1000000"), "EUR") == "€1,000,000.00"
    assert format_money(Decimal("0.004"), "USD") == "$0.00"
    assert quantize("2.675", "USD") == Decimal("2.68")  # Decimal, not binary float
    assert format_unit_price(Decimal("0.012500000000"), "USD") == "$0.0125"
    assert format_unit_price(Decimal("3.000"), "JPY") == "¥3"
    assert format_quantity(Decimal("15000.0000")) == "15,000"
    assert format_quantity(Decimal("2.5000")) == "2.5"
    # the widest decimal(38, 12) amounts are neither rounded at 28 digits nor refused
    wide = Decimal("12345678901234567890123456.123456789012")
    assert format_unit_price(wide, "USD") == "$12,345,678,901,234,567,890,123,456.123456789012"
    assert format_money(wide, "USD") == "$12,345,678,901,234,567,890,123,456.12"
    assert quantize(wide, "KWD") == Decimal("12345678901234567890123456.123")
    with pytest.raises(BillingError, match="unknown currency 'XYZ'"):
        format_money(Decimal(1), "XYZ")
    with pytest.raises(BillingError, match="not 0.1"):
        format_money(0.1, "USD")


# ---------------------------------------------------------------- warehouse fixture

INVOICE_COLUMNS = (
    "invoice_id varchar, invoice_number varchar, entity_id varchar, organization_id varchar, "
    "period varchar, currency varchar, status varchar, subtotal decimal(38,4), "
    "credits_applied decimal(38,4), tax decimal(38,4), total decimal(38,4), "
    "issued_at timestamptz, pdf_path varchar, pdf_sha256 varchar"
)
LINE_COLUMNS = (
    "invoice_id varchar, line_number integer, entity_id varchar, period varchar, "
    "line_type varchar, description varchar, price_id varchar, plan_id varchar, "
    "quantity decimal(38,4), unit_price decimal(38,12), amount decimal(38,4), "
    "service_start timestamptz, service_end timestamptz, original_period varchar"
)
ENTITY_COLUMNS = (
    "entity_id varchar, organization_id varchar, entity_name varchar, currency varchar, "
    "timezone varchar, country varchar, billing_email varchar, address varchar, "
    "tax_rate decimal(38,12), credits_low_threshold decimal(38,4)"
)


def kwd_sample(seller) -> InvoiceDoc:
    customer = Customer("ent_gulf_kw", "Gulf Creative Hub W.L.L.", "Al Hamra Tower, Floor 31\n"
                        "Kuwait City", "finance@gulfcreative.example", "KW", "org_gulf")
    lines = [
        InvoiceLine(1, "usage", "Proposal credits — per unit", Decimal("12.345"), Decimal(823),
                    Decimal("0.015")),
        InvoiceLine(2, "seat", "Agency plan — 2 seats", Decimal("7.5"), Decimal(2),
                    Decimal("3.750"), datetime(2026, 10, 1, tzinfo=ZoneInfo("Asia/Kuwait")),
                    datetime(2026, 11, 1, tzinfo=ZoneInfo("Asia/Kuwait"))),
    ]
    return make_doc("ent_gulf_kw-000011", customer, lines, currency="KWD", seller=seller,
                    timezone="Asia/Kuwait")


def injection_sample(seller) -> InvoiceDoc:
    customer = Customer("ent_evil", INJECTION_NAME, INJECTION_ADDRESS,
                        '"><img src=x onerror=alert(1)>@evil.example', "ZZ", "org_evil")
    lines = [InvoiceLine(1, "usage", "{{ 7*7 }} <b>not bold</b> {% if true %}x{% endif %}",
                         Decimal("3.21"), Decimal(1), Decimal("3.21"))]
    return make_doc("ent_evil-000001", customer, lines, seller=seller)


def _insert(con: duckdb.DuckDBPyConnection, doc: InvoiceDoc, credits_sign: int) -> None:
    zone = ZoneInfo(doc.timezone)
    issued = datetime.combine(doc.issue_date, datetime.min.time(), zone).replace(hour=9)
    con.execute(
        "insert into main.invoices values (?, ?, ?, ?, ?, ?, 'finalized', ?, ?, ?, ?, ?, null, "
        "null)",
        [doc.invoice_id, doc.invoice_number, doc.customer.entity_id,
         doc.customer.organization_id, doc.period, doc.currency, doc.subtotal,
         credits_sign * doc.credits_applied, doc.tax, doc.total, issued],
    )
    for line in reversed(doc.lines):  # stored out of order: the loader orders by line_number
        con.execute(
            "insert into main.invoice_lines values "
            "(?, ?, ?, ?, ?, ?, null, null, ?, ?, ?, ?, ?, ?)",
            [doc.invoice_id, line.line_number, doc.customer.entity_id, doc.period,
             line.line_type, line.description, line.quantity, line.unit_price, line.amount,
             line.service_start, line.service_end, line.original_period],
        )
    c = doc.customer
    con.execute(
        "insert into staging.stg_entities values (?, ?, ?, ?, ?, ?, ?, ?, ?, null)",
        [c.entity_id, c.organization_id, c.entity_name, doc.currency, doc.timezone, c.country,
         c.billing_email, c.address, doc.tax_rate],
    )


@pytest.fixture(scope="module")
def seller():
    return load_seller()


@pytest.fixture(scope="module")
def samples(seller) -> list[InvoiceDoc]:
    return [usd_sample(seller), jpy_sample(seller), kwd_sample(seller), injection_sample(seller)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, samples) -> Path:
    """A DuckDB file with the contract's invoices / invoice_lines and staging.stg_entities."""
    path = tmp_path_factory.mktemp("pdf_wh") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    con.execute("create schema staging")
    con.execute(f"create table main.invoices ({INVOICE_COLUMNS})")
    con.execute(f"create table main.invoice_lines ({LINE_COLUMNS})")
    con.execute(f"create table staging.stg_entities ({ENTITY_COLUMNS})")
    for index, doc in enumerate(samples):
        _insert(con, doc, credits_sign=-1 if index % 2 else 1)
    con.close()
    return path


@pytest.fixture(scope="module")
def loaded(warehouse, samples, seller) -> list[InvoiceDoc]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return load_invoice_docs(con, [doc.invoice_id for doc in samples], seller)
    finally:
        con.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, loaded):
    """The four warehouse invoices rendered in one pool batch (two worker processes)."""
    out = tmp_path_factory.mktemp("pdf_batch") / "2026-10"
    results = render_many(loaded, out, workers=2, progress=False, chunk_size=1)
    return out, results


# ---------------------------------------------------------------- loading


def test_load_invoice_docs_round_trips_the_warehouse(loaded, samples) -> None:
    assert [doc.invoice_id for doc in loaded] == [doc.invoice_id for doc in samples]
    for got, want in zip(loaded, samples, strict=True):
        # Same everything, whatever the sign credits_applied was stored with; decimals stay
        # Decimal (DECIMAL(38,4) keeps trailing zeros, which compare equal).
        assert got == want
        assert [line.line_number for line in got.lines] == sorted(
            line.line_number for line in got.lines)
        assert all(isinstance(line.amount, Decimal) for line in got.lines)
    usd = loaded[0]
    assert usd.issue_date.isoformat() == "2026-11-01"  # 09:00 New York, not the UTC date
    assert usd.due_date.isoformat() == "2026-12-01"  # issue + the seller's 30 days
    assert usd.credits_applied == Decimal("380.25")


def test_load_refuses_unknown_ids_and_foreign_lines(warehouse, tmp_path, seller) -> None:
    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        with pytest.raises(BillingError, match="no invoice with id 'nope'"):
            load_invoice_docs(con, ["nope"], seller)
        con.execute("update main.invoice_lines set entity_id = 'ent_sakura_jp' "
                    "where invoice_id = 'ent_acme_us:2026-10' and line_number = 3")
        with pytest.raises(BillingError, match="line 3 of invoice ent_acme_us:2026-10 belongs"):
            load_invoice_docs(con, ["ent_acme_us:2026-10"], seller)
    finally:
        con.close()


def test_doc_whose_numbers_do_not_add_up_is_refused(samples, tmp_path) -> None:
    bad = dataclasses.replace(samples[0], total=samples[0].total + Decimal("0.01"))
    with pytest.raises(BillingError, match="subtotal .* \\+ tax .* != total"):
        render_invoice(bad, tmp_path / "bad.pdf")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- content


def test_pdf_text_matches_lines_and_totals(batch, loaded) -> None:
    out, results = batch
    assert [r.invoice_id for r in results] == [doc.invoice_id for doc in loaded]
    for doc, result in zip(loaded, results, strict=True):
        text = text_of(result.path)
        flat = squash(text)
        for line in doc.lines:
            assert squash(line.description) in flat, (doc.invoice_number, line.description)
            assert format_money(line.amount, doc.currency) in text
        for label, amount in (("Subtotal", doc.subtotal), ("Tax", doc.tax),
                              ("Total due", doc.total)):
            assert re.search(re.escape(label) + r".*" + re.escape(
                format_money(amount, doc.currency)), text), (label, amount)
        assert doc.invoice_number in text and "Page 1 of 1" in text
        assert squash(doc.customer.entity_name) in flat
        assert doc.seller.name in text and doc.seller.payment_terms[:40] in text


def test_usd_invoice_shows_tiers_seats_credits_and_adjustment(batch) -> None:
    text = text_of(batch[1][0].path)
    assert "9,000" in text and "$0.05" in text and "$450.00" in text  # tier 2
    assert "1 – 15 Oct 2026" in text and "16 – 31 Oct 2026" in text  # seat stretches
    assert "Adjusts September 2026 (2026-09)" in text
    assert "Credits applied" in text and "-$380.25" in text
    assert "Tax (8.25%)" in text and "$1,631.06" in text
    assert "Issue date" in text and "1 Nov 2026" in text and "1 Dec 2026" in text


def test_jpy_has_no_decimals_and_kwd_three(batch) -> None:
    jpy, kwd = text_of(batch[1][1].path), text_of(batch[1][2].path)
    assert "¥36,000" in jpy and "¥60,925" in jpy
    assert not re.search(r"¥[\d,]+\.\d", jpy)
    assert "KD 12.345" in kwd and "KD 7.500" in kwd and "KD 19.845" in kwd
    assert not re.search(r"KD [\d,]+\.(\d{2}|\d{4,})(?!\d)", kwd)


def test_injection_strings_render_as_plain_text(batch) -> None:
    text = text_of(batch[1][3].path)
    flat = squash(text)
    assert squash(INJECTION_NAME) in flat
    assert squash("{{ 7*7 }} <b>not bold</b> {% if true %}x{% endif %}") in flat
    assert squash("<script>alert(1)</script>") in flat
    assert squash("{% raw %}{{ config }}{% endraw %}") in flat
    assert not re.search(r"(?<!\d)49(?!\d)", text) and "root:" not in text


def test_entities_in_one_batch_never_see_each_other(batch, loaded) -> None:
    texts = [squash(text_of(result.path)) for result in batch[1]]
    for index, doc in enumerate(loaded):
        own = texts[index]
        assert squash(doc.customer.entity_name) in own and doc.invoice_number in own
        for other_index, other in enumerate(loaded):
            if other_index == index:
                continue
            for secret in (other.customer.entity_name, other.invoice_number,
                           other.customer.billing_email, other.customer.entity_id):
                assert squash(secret) not in own, (doc.invoice_number, secret)


# ---------------------------------------------------------------- layout


@pytest.fixture(scope="module")
def thousand_lines(seller):
    doc = long_sample(1000, seller)
    document = InvoiceRenderer().document(doc)
    reader = PdfReader(__import__("io").BytesIO(document.write_pdf(**pdf_options(doc))))
    return doc, document, reader


def test_thousand_line_invoice_paginates_with_headers_and_page_numbers(thousand_lines) -> None:
    doc, _, reader = thousand_lines
    pages = [page.extract_text() for page in reader.pages]
    total = len(pages)
    assert total >= 10
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
        if re.search(r"evt_\d{4}", page):  # every page that carries lines has the header
            assert page.count("DESCRIPTION") == 1 and "UNIT PRICE" in page
    text = "\n".join(pages)
    for line in doc.lines:
        amount = format_money(line.amount, doc.currency)
        assert len(re.findall(re.escape(amount) + r"(?![\d])", text)) == 1, amount
        assert line.description in text
    assert format_money(doc.total, doc.currency) in pages[-1]


def _text_boxes(box):
    from weasyprint.formatting_structure.boxes import TextBox

    if isinstance(box, TextBox):
        yield box
    for child in getattr(box, "children", ()):
        yield from _text_boxes(child)


def test_no_text_box_leaves_the_page(thousand_lines) -> None:
    for page in thousand_lines[1].pages:
        page_box = page._page_box
        right = page_box.margin_width()
        for box in _text_boxes(page_box):
            assert box.position_x >= 0 and box.position_x + box.width <= right + 0.5, box.text


def test_long_names_and_addresses_wrap_inside_their_column(seller) -> None:
    doc = long_sample(3, seller)
    document = InvoiceRenderer().document(doc)
    page_box = document.pages[0]._page_box
    content_right = page_box.content_box_x() + page_box.width
    for box in _text_boxes(page_box):
        assert box.position_x + box.width <= content_right + 0.5, box.text
    text = squash(text_of(PdfReader(__import__("io").BytesIO(
        document.write_pdf(**pdf_options(doc))))))
    for part in (doc.customer.entity_name, doc.customer.address, doc.customer.billing_email):
        assert squash(part) in text


# ---------------------------------------------------------------- security


def test_fetcher_serves_only_template_assets(tmp_path) -> None:
    fetcher = TemplateAssetFetcher()
    css = fetcher((TEMPLATES_DIR / "invoice.css").as_uri())
    assert b"@font-face" in css.read()
    refused = [
        "file:///etc/passwd",
        (TEMPLATES_DIR / ".." / ".." / ".." / "etc" / "passwd").as_uri(),
        TEMPLATES_DIR.as_uri() + "/../pyproject.toml",
        (TEMPLATES_DIR / "seller.toml").as_uri(),  # inside, but not an asset type
        "http://127.0.0.1/invoice.css",
        "https://example.com/font.ttf",
        "data:text/css,body{}",
        "ftp://example.com/x.css",
        "file://example.com/etc/passwd",
    ]
    for url in refused:
        with pytest.raises(FetchRefused):
            fetcher(url)
    # A symlink inside the served folder that points outside it is refused too.
    root = tmp_path / "tpl"
    root.mkdir()
    (root / "ok.css").write_text("body{}")
    (root / "evil.css").symlink_to("/etc/passwd")
    own = TemplateAssetFetcher(root)
    assert own((root / "ok.css").as_uri()).read() == b"body{}"
    with pytest.raises(FetchRefused, match="outside"):
        own((root / "evil.css").as_uri())


class _CountingHandler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    _CountingHandler.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("asset", ["file:///etc/passwd", "HTTP", "../../pyproject.toml"])
def test_template_referencing_outside_assets_fails(tmp_path, samples, http_server,
                                                   asset) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates, ignore=shutil.ignore_patterns("webhooks"))
    url = f"{http_server}/x.css" if asset == "HTTP" else asset
    source = (templates / "invoice.html.j2").read_text()
    (templates / "invoice.html.j2").write_text(
        source.replace("<body>", f'<body><img src="{url}"><link rel="stylesheet" href="{url}">')
    )
    renderer = InvoiceRenderer(templates)
    with pytest.raises(BillingError, match="refused"):
        renderer.render(samples[0], tmp_path / "out.pdf")
    assert _CountingHandler.hits == []  # nothing was requested over HTTP
    assert renderer.fetcher.refused
    assert not (tmp_path / "out.pdf").exists()


def test_autoescape_is_on_for_the_template() -> None:
    renderer = InvoiceRenderer()
    assert renderer.template.environment.autoescape is True


# ---------------------------------------------------------------- reproducibility


def test_same_doc_gives_same_bytes_in_process_and_in_the_pool(batch, loaded, tmp_path) -> None:
    first, second = tmp_path / "a" / "x.pdf", tmp_path / "b" / "x.pdf"
    sha_1 = render_invoice(loaded[1], first)
    sha_2 = render_invoice(loaded[1], second)
    assert first.read_bytes() == second.read_bytes()
    assert sha_1 == sha_2 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert batch[1][1].sha256 == sha_1  # the pool worker wrote the very same bytes
    meta = PdfReader(first).metadata
    assert meta["/CreationDate"].startswith("D:20261101")  # the issue date, not today
    assert meta["/ModDate"] == meta["/CreationDate"]
    assert meta["/Title"] == f"Invoice {loaded[1].invoice_number}"


def test_fast_path_caches_keep_the_bytes(samples) -> None:
    """The pool's shortcuts (XML parser, reused font subsets) give the naive path's bytes."""
    from weasyprint import HTML
    from weasyprint.pdf.fonts import Font

    from billing.pdf import render

    renderer = InvoiceRenderer()
    naive = [
        HTML(string=renderer.html(doc, link_css=True), base_url=renderer.base_url,
             url_fetcher=TemplateAssetFetcher()).write_pdf(**pdf_options(doc))
        for doc in samples
    ]
    original = Font.subset
    try:
        render._cache_font_subsets()
        render._SUBSETS.clear()
        fast = [renderer.pdf(doc)[0] for doc in samples + samples]  # 2nd round: cache hits
        assert render._SUBSETS
    finally:
        Font.subset = original
    assert fast == naive + naive
    # Text the XML parser refuses falls back to the HTML5 parser, with the same result.
    html = renderer.html(samples[0])
    tree = renderer.parse(html.replace("</body>", "<p>bell\x07</p></body>")).etree_element
    assert tree.tag == "html" and "bell" in "".join(tree.itertext())


def test_atomic_write_leaves_no_temp_files(batch, tmp_path) -> None:
    out, results = batch
    assert sorted(p.name for p in out.iterdir()) == sorted(r.path.name for r in results)
    target = tmp_path / "keep.pdf"
    write_atomic(target, b"old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pdf"]


def test_manifest_lists_every_pdf_and_merges(batch) -> None:
    out, results = batch
    path = write_manifest(out, "2026-10", results[:2])
    write_manifest(out, "2026-10", results[2:])
    manifest = json.loads(path.read_text())
    assert manifest == read_manifest(out)
    assert manifest["period"] == "2026-10" and manifest["invoice_count"] == len(results)
    by_number = {entry["invoice_number"]: entry for entry in manifest["invoices"]}
    for result in results:
        entry = by_number[result.invoice_number]
        data = (out / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() == result.sha256
        assert entry["bytes"] == len(data) and entry["pages"] == 1
    before = path.read_bytes()
    write_manifest(out, "2026-10", results)
    assert path.read_bytes() == before  # no timestamps: same PDFs, same manifest
    with pytest.raises(BillingError, match="holds period '2026-10'"):
        write_manifest(out, "2026-11", results)


def test_totals_and_payment_block_is_never_split_across_pages(seller, tmp_path) -> None:
    # WeasyPrint 70 ignored break-inside on the floated totals block: at the line count where
    # it straddled a page break, the closing line printed over the bank details on page 2.
    # Whatever the number of lines, the block (with its closing line) stays on one page.
    straddled = 0
    for n_lines in range(8, 40):
        doc = long_sample(n_lines, seller)
        reader = PdfReader(__import__("io").BytesIO(
            InvoiceRenderer().document(doc).write_pdf(**pdf_options(doc))))
        pages = [squash(page.extract_text()).lower() for page in reader.pages]
        thanks = squash("Thank you for your business").lower()
        closing = [i for i, text in enumerate(pages) if thanks in text]
        assert len(closing) == 1, n_lines
        page = pages[closing[0]]
        for part in ("How to pay", "Subtotal", "Total due", "Reference", doc.invoice_number):
            assert squash(part).lower() in page, (n_lines, part)
        straddled += closing[0] > 0 and "subtotal" not in pages[closing[0] - 1]
    assert straddled > 0  # the range does reach the point where the block moves to a new page


def test_every_currency_symbol_prints_with_the_shipped_fonts() -> None:
    # A symbol the fonts lack prints as a box (and makes pypdf read the font's text as
    # garbage); an Arabic-script symbol reorders around the number. Such currencies show
    # their ISO code instead ("GEL 1,251.25").
    import csv
    import unicodedata

    from fontTools.ttLib import TTFont

    fonts = [set(TTFont(TEMPLATES_DIR / "fonts" / name).getBestCmap())
             for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")]
    seed = TEMPLATES_DIR.parent / "seeds" / "currencies.csv"
    with seed.open(encoding="utf-8", newline="") as fh:
        symbols = {row["currency"]: row["symbol"] for row in csv.DictReader(fh)}
    unprintable = {
        code: symbol for code, symbol in symbols.items()
        if any(ord(ch) not in font for ch in symbol for font in fonts)
        or any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in symbol)
    }
    assert unprintable == {}
    assert symbols["GEL"] == "GEL" and symbols["EUR"] == "€" and symbols["JPY"] == "¥"
    assert format_money(Decimal("1251.25"), "GEL") == "GEL 1,251.25"


def test_a_negative_total_is_a_credit_note_with_nothing_to_pay(seller) -> None:
    # an invoice holding only a credited-back adjustment: -$99.00, a credit in the customer's
    # favour, so no due date, no bank details and no late-payment warning
    customer = Customer("ent_refund", "Refund Studio LLC", "1 Credit Way", "ap@refund.example",
                        "US")
    lines = [InvoiceLine(1, "adjustment", "Adjustment to 2026-09: Messages — 990 × $0.10 "
                         "(billed $99.00, now $0.00)", Decimal("-99.00"),
                         original_period="2026-09")]
    doc = make_doc("ent_refund-000002", customer, lines, seller=seller)
    assert doc.total == Decimal("-99.00")
    reader = PdfReader(__import__("io").BytesIO(
        InvoiceRenderer().document(doc).write_pdf(**pdf_options(doc))))
    text = squash(" ".join(page.extract_text() for page in reader.pages)).lower()
    for part in ("Credit note", "Credit in your favour", "Total credit", "$99.00",
                 "Nothing to pay", "ent_refund-000002"):
        assert squash(part).lower() in text, part
    for part in ("Amount due", "Total due", "Due date", "How to pay", "suspension"):
        assert squash(part).lower() not in text, part
    assert "-$99.00" in text  # the adjustment line itself keeps its sign
    bank = [value for key, value in seller.bank if key != "Account"]  # the holder is the seller
    assert bank and all(squash(value).lower() not in text for value in bank)


def test_a_positive_invoice_keeps_its_payment_instructions(seller) -> None:
    doc = usd_sample(seller)
    reader = PdfReader(__import__("io").BytesIO(
        InvoiceRenderer().document(doc).write_pdf(**pdf_options(doc))))
    text = squash(" ".join(page.extract_text() for page in reader.pages)).lower()
    for part in ("Amount due", "Total due", "Due date", "How to pay"):
        assert squash(part).lower() in text, part
    assert "credit note" not in text


def one_line_invoice(seller, customer: Customer, number: str) -> PdfReader:
    """A one-line usage invoice for ``customer``, rendered and read back."""
    lines = [InvoiceLine(1, "usage", "Messages — 10 × $0.10", Decimal("1.00"), Decimal(10),
                         Decimal("0.10"))]
    doc = make_doc(number, customer, lines, seller=seller)
    return PdfReader(__import__("io").BytesIO(
        InvoiceRenderer().document(doc).write_pdf(**pdf_options(doc))))


@pytest.mark.parametrize(
    ("country", "address", "shown", "hidden"),
    [
        ("US", "1 Main Street\nNew York, NY 10001", "United States", None),
        ("US", "1 Main Street\nUnited States", None, "United StatesUnited States"),
        ("GB", "10 Downing Street\nLondon\nGB", None, "GBUnited Kingdom"),
        ("XK", "Rruga e Dëshmorëve 1\nPrishtina", "Kosovo", None),
    ],
)
def test_the_bill_to_country_is_a_name_printed_once(seller, country, address, shown, hidden):
    customer = Customer("ent_c", "Country Test Ltd", address, "ap@c.example", country)
    reader = one_line_invoice(seller, customer, "ent_c-000001")
    text = squash(" ".join(page.extract_text() for page in reader.pages))
    if shown:
        assert squash(shown) in text
    if hidden:
        assert squash(hidden) not in text
    assert text.count(squash(address.splitlines()[-1])) == 1


def test_names_in_cjk_indic_and_thai_scripts_print_with_real_glyphs(seller) -> None:
    # The shipped DejaVu fonts have none of these glyphs: Pango falls back to the system fonts
    # `make setup` installs (scripts/system-deps.sh). A glyph no font has would be drawn as a box
    # from DejaVu and its text still extracted, so the test reads which fonts each run used.
    from fontTools.ttLib import TTFont

    names = {
        "株式会社テスト": "WenQuanYi",  # Japanese
        "北京数据有限公司": "WenQuanYi",  # Chinese
        "한국데이터": "WenQuanYi",  # Korean
        "मोहन कुमार": "Noto-Sans-Devanagari",  # Hindi
        "บริษัท ไทย": "Noto-Sans-Thai",  # Thai
    }
    customer = Customer("ent_i18n", " · ".join(names), "1 Main Street", "ap@i18n.example", "JP")
    reader = one_line_invoice(seller, customer, "ent_i18n-000001")
    text = squash(" ".join(page.extract_text() for page in reader.pages))
    fonts = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts[str(font["/BaseFont"]).split("+", 1)[-1]] = font
    for name, family in names.items():
        assert squash(name) in text, name
        assert any(family in base for base in fonts), (name, sorted(fonts))
    # and none of their characters is one DejaVu has (so none came out as its .notdef box);
    # names with Indic conjuncts also print right, but pypdf reads some of them back reordered
    dejavu = set(TTFont(TEMPLATES_DIR / "fonts" / "DejaVuSans-Bold.ttf").getBestCmap())
    non_latin = {ch for name in names for ch in name if ord(ch) > 0x2FF and not ch.isspace()}
    assert non_latin and not non_latin & dejavu
