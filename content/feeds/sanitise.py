"""Make feed HTML safe to show and to send, and turn it into plain text.

Feed summaries come from strangers and end up in newsletters and on web pages, so they pass an
allow-list (nh3, the Rust ammonia sanitiser) instead of a block-list: anything not named here is
dropped. Links keep only http, https and mailto targets and never hand the reader's browser
context to the linked site.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "a", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped with everything inside: their content is code or a fallback for embedded pages, never
# text meant for a newsletter (an iframe's inner text would otherwise surface as escaped markup).
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "frame", "frameset", "object", "noscript", "template", "svg"}
)
LINK_REL = "noopener noreferrer"
# Characters an HTML parser and serialiser would change: a text without any is plain text.
_MARKUP = re.compile(r"[<>&\r\xa0\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Tags that start a new paragraph in the text form; everything else is inline.
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "blockquote",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "table",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "hr",
    }
)
# Their content is never text a reader should see.
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})
# ASCII whitespace only: a no-break space (``§\xa05``, ``10\xa0000``) is typography, not layout.
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


def collapse_whitespace(text: str) -> str:
    """Runs of layout whitespace become one space; no-break spaces stay."""
    return _SPACES.sub(" ", text).strip(" ")


def sanitise_html(html: str, base_url: str) -> str:
    """Keep only harmless markup; relative links become absolute against ``base_url``.

    Resolving happens here because the HTML leaves its feed's context: a ``/beitrag`` link in a
    newsletter would otherwise point at the newsletter's host. Only an http(s) base resolves
    links: against a ``file:`` base (a workspace's local feed) or none, relative links are
    dropped, as a ``file:`` link would be.
    """

    if not _MARKUP.search(html):
        # Plain text (a WordPress excerpt): nothing to clean, and nh3 would return it unchanged.
        return html.strip()
    return _cleaner(base_url).clean(html).strip()


@lru_cache(maxsize=256)
def _cleaner(base_url: str) -> nh3.Cleaner:
    """The sanitiser for links relative to ``base_url``, built once per base.

    Building one costs as much as cleaning a teaser, and the entries of a feed share their base
    (the feed's URL, or its ``xml:base``). nh3 resolves relative links itself, so no Python
    callback runs per link.
    """
    parts = urlsplit(base_url)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        try:
            return _build_cleaner(("rewrite_with_base", base_url))
        except ValueError:  # a base URL nh3 cannot parse resolves nothing
            pass
    return _build_cleaner("deny")


def _build_cleaner(relative: nh3.UrlRelative) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        strip_comments=True,
        url_relative=relative,
    )


class _TextExtractor(HTMLParser):
    """Collects text by paragraph; ``convert_charrefs`` decodes entities on the way."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self._flush()
        elif tag == "br":
            self._current.append("\n")
        elif tag == "li":
            self._current.append("\n- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HIDDEN_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self._current.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        lines = (collapse_whitespace(line) for line in "".join(self._current).split("\n"))
        paragraph = "\n".join(line for line in lines if line and line != "-")
        if paragraph:
            self.paragraphs.append(paragraph)
        self._current = []


def html_to_text(html: str) -> str:
    """Plain text for text-only channels: paragraphs separated by a blank line, lines by ``\\n``.

    A real HTML parser (the standard library's) reads the markup, because feed HTML is rarely
    well-formed and a regular expression would leak tag fragments into the text.
    """
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "\n\n".join(extractor.paragraphs)


# What nh3 leaves: allow-listed tags with quoted attributes, text with ``<`` escaped.
_CLEAN_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>|([^<]+)")


def sanitised_html_to_text(html: str) -> str:
    """:func:`html_to_text` for the output of :func:`sanitise_html` only, several times faster.

    The sanitiser's output is well-formed and holds only allow-listed tags, so a tokenising
    regular expression reads it exactly as the HTML parser would; arbitrary feed HTML must go
    through :func:`html_to_text` instead.
    """
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        lines = (collapse_whitespace(line) for line in "".join(current).split("\n"))
        paragraph = "\n".join(line for line in lines if line and line != "-")
        if paragraph:
            paragraphs.append(paragraph)
        current.clear()

    for closing, tag, text in _CLEAN_TOKEN.findall(html):
        if text:
            current.append(unescape(text))
            continue
        tag = tag.lower()
        if tag in _BLOCK_TAGS:
            flush()
        elif not closing and tag == "br":
            current.append("\n")
        elif not closing and tag == "li":
            current.append("\n- ")
    flush()
    return "\n\n".join(paragraphs)
