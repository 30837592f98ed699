"""The only way WeasyPrint may read a resource while rendering an invoice.

An invoice PDF is built from the project's own template assets (the stylesheet, the fonts, the
logo) and from nothing else: no ``http(s)``, no ``data:``, no ``file://`` outside ``templates/``.
A path is checked after resolving symlinks and ``..``, so a link inside ``templates/`` that
points elsewhere is refused too. A refusal stops the render (it is fatal, not a warning): a
template that reaches outside its folder is a bug to fix, never a PDF to ship.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

from billing.errors import BillingError
from billing.paths import TEMPLATES_DIR

#: File types the templates need; anything else under templates/ is not served either.
ALLOWED_SUFFIXES = frozenset({".css", ".ttf", ".otf", ".woff", ".woff2", ".svg", ".png", ".jpg"})


class FetchRefused(BillingError):
    """WeasyPrint asked for a URL that is not one of the project's template assets."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"invoice template asked for {url[:200]!r}: refused ({reason})")


class TemplateAssetFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves files under one folder and refuses the rest.

    Every URL it is asked for is recorded in :attr:`requested`, every refusal in
    :attr:`refused` (useful for tests and audits).
    """

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        # fail_on_errors: WeasyPrint turns any error raised here into a fatal one.
        super().__init__(allowed_protocols=("file",), allow_redirects=False, fail_on_errors=True)
        self.root = Path(root).resolve(strict=True)
        self.requested: list[str] = []
        self.refused: list[FetchRefused] = []
        self._cache: dict[Path, bytes] = {}

    def resolve(self, url: str) -> Path:
        """The file a URL names, if it may be served; else raise :class:`FetchRefused`."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file":
            raise FetchRefused(url, f"scheme {parts.scheme or 'none'!r} is not allowed")
        if parts.netloc not in ("", "localhost"):
            raise FetchRefused(url, f"remote host {parts.netloc!r} is not allowed")
        try:
            path = Path(unquote(parts.path)).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise FetchRefused(url, "no such file") from exc
        if not path.is_relative_to(self.root):
            raise FetchRefused(url, f"outside {self.root}")
        if not path.is_file():
            raise FetchRefused(url, "not a regular file")
        if path.suffix.lower() not in ALLOWED_SUFFIXES:
            raise FetchRefused(url, f"file type {path.suffix or 'none'!r} is not a template asset")
        return path

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        self.requested.append(url)
        try:
            path = self.resolve(url)
        except FetchRefused as refusal:
            self.refused.append(refusal)
            raise
        body = self._cache.get(path)
        if body is None:
            body = self._cache[path] = path.read_bytes()
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), body, {"Content-Type": mime})

    def __call__(self, url: str) -> URLFetcherResponse:
        return self.fetch(url)
