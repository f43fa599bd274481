"""Diagnose one feed URL without storing anything: what ``depesche feeds check URL`` reports.

It runs the same stages as ingestion (the SSRF guard, limits, parsing, normalising, sanitising,
near-duplicate detection) on one URL and reports what each found, so a PR team member can see
why a feed fails or looks odd before adding it to feeds.yaml. No database is opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from campaigns.schema import FetchSection
from content.feeds.addresses import Resolver, system_resolver
from content.feeds.dedupe import NearDuplicateIndex, fingerprint
from content.feeds.fetch import Fetcher, FetchError, FetchLimits
from content.feeds.normalise import NormalisedItem, normalise
from content.feeds.parse import ParseError, parse

SAMPLE_SIZE = 5
_SHOWN_HEADERS = ("content-type", "content-encoding", "etag", "last-modified", "retry-after")


@dataclass(frozen=True)
class Diagnosis:
    """What one fetch and parse of ``url`` found; ``error`` is set when it could not be read."""

    url: str
    ok: bool
    error: str | None = None
    final_url: str | None = None
    permanent_url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0
    title: str | None = None
    entries: int = 0
    problem: str | None = None
    future_dates: int = 0
    near_duplicates: int = 0
    samples: list[NormalisedItem] = field(default_factory=list)


def diagnose(
    url: str,
    *,
    base_dir: Path,
    now: datetime,
    fetch: FetchSection,
    resolver: Resolver = system_resolver,
) -> Diagnosis:
    """Fetch (unconditionally), parse and normalise ``url``; report, never raise for the feed."""
    limits = FetchLimits(
        timeout=fetch.timeout, total_timeout=fetch.total_timeout, max_bytes=fetch.max_bytes
    )
    with Fetcher(limits, allow_networks=fetch.allow_networks, resolver=resolver) as fetcher:
        try:
            result = fetcher.fetch(url, base_dir=base_dir, etag=None, last_modified=None)
        except FetchError as exc:
            return Diagnosis(url=url, ok=False, error=str(exc), status=exc.status)
    seen = Diagnosis(
        url=url,
        ok=True,
        final_url=result.url,
        permanent_url=result.permanent_url,
        status=result.status,
        headers={name: result.headers[name] for name in _SHOWN_HEADERS if name in result.headers},
        size=len(result.content),
    )
    try:
        parsed = parse(result.content, url=result.url, headers=result.headers)
    except ParseError as exc:
        return replace(seen, ok=False, error=str(exc))
    items = [normalise(entry, feed_id="check", feed_tags=[], now=now) for entry in parsed.entries]
    return replace(
        seen,
        title=parsed.title,
        entries=len(items),
        problem=parsed.problem,
        future_dates=sum(1 for item in items if item.clamped),
        near_duplicates=_near_duplicates(items),
        samples=items[:SAMPLE_SIZE],
    )


def _near_duplicates(items: list[NormalisedItem]) -> int:
    """How many entries repeat an earlier entry's story within this feed."""
    index = NearDuplicateIndex()
    repeats = 0
    for item in items:
        print_ = fingerprint(item.title, item.summary_text)
        if index.match(print_, item.published) is not None:
            repeats += 1
        index.add(item.item_id, item.item_id, item.published, print_)
    return repeats
