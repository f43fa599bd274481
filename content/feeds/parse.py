"""Turn a feed's bytes into one entry shape, whatever the format.

This module detects the format and dispatches, as miniflux's ``parser/format.go`` does: RSS
0.9x, 1.0 (RDF), 2.0 and Atom go to :mod:`content.feeds.xmlfeed` (feedparser), JSON Feed 1.0
and 1.1 to :mod:`content.feeds.jsonfeed`. Both first get the bytes through
:mod:`content.feeds.encoding` (so wrong charset labels do not garble umlauts), and both return
:class:`RawEntry` values, so nothing downstream knows which format a story came in.
"""

from __future__ import annotations

from content.feeds.entries import ParsedFeed, ParseError, RawEntry
from content.feeds.jsonfeed import parse_json_feed
from content.feeds.xmlfeed import parse_xml_feed

__all__ = ["ParseError", "ParsedFeed", "RawEntry", "parse"]


def parse(content: bytes, *, url: str, headers: dict[str, str]) -> ParsedFeed:
    """Parse ``content`` fetched from ``url``; ``headers`` guide encoding and format.

    Raises :class:`ParseError` only when nothing usable came out: a feed with entries and a
    syntax slip is still read (as feed readers do) and the slip is reported as ``problem``.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if _is_json(content, lowered):
        return parse_json_feed(content, url=url, headers=lowered)
    return parse_xml_feed(content, url=url, headers=lowered)


def _is_json(content: bytes, headers: dict[str, str]) -> bool:
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    return "json" in headers.get("content-type", "") and not head.startswith(b"<")
