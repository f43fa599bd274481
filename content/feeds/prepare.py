"""Bytes in, normalised items out: the CPU half of a feed's ingest, in any process.

Parsing, sanitising and normalising take most of the time of a cold start and hold Python's
global interpreter lock, so threads do not speed them up. This function touches no database,
no network and no shared state, takes and returns plain values, and can therefore run in a
worker process; :mod:`content.ingest` hands it to a process pool when many feeds come in at once
and calls it directly otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from content.feeds.normalise import NormalisedItem, normalise
from content.feeds.parse import parse


@dataclass(frozen=True)
class Prepared:
    """A feed's entries, ready to store; ``problem`` names what was wrong but worked around."""

    items: list[NormalisedItem]
    problem: str | None


def prepare(
    content: bytes,
    *,
    url: str,
    headers: dict[str, str],
    feed_id: str,
    feed_tags: list[str],
    now: datetime,
) -> Prepared:
    """Parse and normalise one feed's bytes; raises :class:`~content.feeds.parse.ParseError`."""
    parsed = parse(content, url=url, headers=headers)
    items = [
        normalise(entry, feed_id=feed_id, feed_tags=feed_tags, now=now) for entry in parsed.entries
    ]
    problems = [parsed.problem] if parsed.problem else []
    clamped = sum(1 for item in items if item.clamped)
    if clamped:
        noun = "entry" if clamped == 1 else "entries"
        problems.append(f"{clamped} {noun} dated in the future, set to the fetch time")
    return Prepared(items=items, problem="; ".join(problems) or None)
