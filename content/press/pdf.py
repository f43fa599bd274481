"""The press release as PDF: WeasyPrint renders the release's own HTML with its print stylesheet.

Rendering from the HTML keeps one layout to maintain; the ``@page`` and ``@media print`` rules in
``press_release.html`` make it A4 and repeat the Sperrfrist box on top of every page. The HTML is
built from workspace texts, so the renderer may read local files inside the workspace (a logo)
and nothing else: no network fetch can slow or leak a render. WeasyPrint is imported on first
use: it takes most of a second, which every command that never renders a PDF would pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname


def _outside(url: str, root: Path) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "file":
        return False
    return not Path(url2pathname(unquote(parts.path))).resolve().is_relative_to(root)


def _fetcher(root: Path) -> Any:
    """A WeasyPrint URL fetcher for ``file:`` and ``data:`` URLs, and files only below ``root``."""
    from weasyprint.urls import URLFetcher

    class WorkspaceFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            if _outside(url, root):
                raise ValueError(f"{url} lies outside the workspace")
            return super().fetch(url, headers)

    return WorkspaceFetcher(allowed_protocols=("file", "data"), fail_on_errors=False)


def render_pdf(html: str, *, base_dir: Path) -> bytes:
    """PDF bytes of ``html``; relative references resolve against ``base_dir`` (the workspace).

    The bytes depend only on the HTML, the fonts installed and the WeasyPrint version: no
    timestamps or random identifiers, so re-rendering the same release yields the same file.
    """
    from weasyprint import HTML

    root = base_dir.resolve()
    document = HTML(
        string=html,
        base_url=root.as_uri() + "/",
        url_fetcher=_fetcher(root),
        media_type="print",
    )
    return bytes(document.write_pdf())
