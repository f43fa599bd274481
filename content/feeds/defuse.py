"""Take the document type declaration out of a feed before any XML parser sees it.

Feeds have no use for a DTD, and a DTD is where XML's dangerous features live: entities that
expand into entities (the "billion laughs", a few hundred bytes that grow to gigabytes) and
external entities that make the parser read ``file:///etc/passwd`` or request an internal URL
(XXE). feedparser and expat have defences of their own; this removes the declarations so that
no version or configuration of either can expand or fetch anything. References to the removed
entities stay as literal text, and the feed is read like any other slightly broken one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


@dataclass(frozen=True)
class Defused:
    text: str
    problem: str | None = None


def remove_doctype(text: str) -> Defused:
    """``text`` without its ``<!DOCTYPE …>``; a problem is noted when it declared entities."""
    match = _DOCTYPE.search(text)
    if match is None:
        return Defused(text)
    end = _declaration_end(text, match.end())
    declaration = text[match.start() : end]
    rest = text[: match.start()] + text[end:]
    if "<!ENTITY" in declaration.upper():
        return Defused(rest, "DOCTYPE with entity declarations removed; entities not expanded")
    return Defused(rest)


def _declaration_end(text: str, start: int) -> int:
    """Index after the ``>`` closing a DOCTYPE that began before ``start``.

    Quoted literals, comments and processing instructions inside the internal subset may hold
    ``>`` and ``]``, so they are skipped whole. An unterminated declaration runs to the end.
    """
    depth = 0
    position = start
    length = len(text)
    while position < length:
        char = text[position]
        if char in "\"'":
            close = text.find(char, position + 1)
            position = length if close < 0 else close + 1
            continue
        if text.startswith("<!--", position):
            close = text.find("-->", position + 4)
            position = length if close < 0 else close + 3
            continue
        if text.startswith("<?", position):
            close = text.find("?>", position + 2)
            position = length if close < 0 else close + 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == ">" and depth == 0:
            return position + 1
        position += 1
    return length
