"""The shape every feed format is parsed into, and the parsers' shared small rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

WEB_SCHEMES = ("http", "https")


class ParseError(Exception):
    """The bytes are not a feed we can read at all; the message names the URL."""


@dataclass(frozen=True)
class RawEntry:
    """One entry as the feed states it, before any cleaning; ``link`` is always absolute.

    ``summary_html`` is HTML as the feed gave it (plain text already escaped); ``base`` is the
    URL its relative links resolve against: the ``xml:base`` in force, else the feed's URL.
    """

    guid: str | None
    link: str
    title: str
    summary_html: str
    published: datetime | None
    tags: list[str] = field(default_factory=list)
    base: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    """A readable feed; ``problem`` describes what was wrong but could be worked around."""

    title: str | None
    entries: list[RawEntry]
    problem: str | None = None


def web_url(value: object) -> str | None:
    """Only absolute http(s) URLs identify a story; ``urn:`` GUIDs and ``file:`` links do not."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in WEB_SCHEMES and parts.netloc:
        return url
    return None


def note_skipped(problems: list[str], skipped: int) -> None:
    if skipped:
        noun = "entry" if skipped == 1 else "entries"
        problems.append(f"{skipped} {noun} without an http(s) link or any text skipped")


def problem_text(url: str, problems: list[str]) -> str | None:
    return f"{url}: {'; '.join(problems)}" if problems else None
