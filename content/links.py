"""Outgoing links: campaign tracking parameters, added only where the campaign wants them."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from campaigns.schema import UtmParameters


@lru_cache(maxsize=8192)
def _split(url: str) -> tuple[str, str, str, frozenset[str]]:
    """A link without query and fragment, its query re-encoded, its fragment and the keys it
    has: one item's link is tagged for every initiative that carries it, so it is parsed once.
    (``urlunsplit`` appends ``?query`` and ``#fragment`` to exactly that first part.)"""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    base = urlunsplit(parts._replace(query="", fragment=""))
    return base, urlencode(query), parts.fragment, frozenset(key for key, _ in query)


@lru_cache(maxsize=1024)
def _utm_query(present: frozenset[str], source: str, medium: str, campaign: str) -> str:
    """The encoded ``utm_*`` pairs a link lacks; the same for every item of one piece."""
    pairs = (("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign))
    return urlencode([(key, value) for key, value in pairs if key not in present])


def forget_links() -> None:
    """Drop the parsed links (see :mod:`content.caches`)."""
    _split.cache_clear()
    _utm_query.cache_clear()


def with_utm(url: str, *, source: str, medium: str, campaign: str) -> str:
    """Add ``utm_*`` parameters, keeping any the link already has in their order."""
    base, query, fragment, present = _split(url)
    # urlencode joins pairs with "&": the existing pairs, then the added ones.
    joined = "&".join(q for q in (query, _utm_query(present, source, medium, campaign)) if q)
    return base + (f"?{joined}" if joined else "") + (f"#{fragment}" if fragment else "")


def campaign_link(
    url: str,
    utm: bool | UtmParameters,
    *,
    kind: str,
    campaign: str,
    source: str,
    medium: str,
) -> str:
    """A link as a piece of ``kind`` carries it: with the campaign's UTM values, or untouched.

    Press material never carries tracking parameters: editors copy its links into articles.
    """
    if kind == "press_release" or utm is False:
        return url
    if isinstance(utm, UtmParameters):
        campaign = utm.campaign or campaign
        source = utm.source or source
    return with_utm(url, source=source, medium=medium, campaign=campaign)
