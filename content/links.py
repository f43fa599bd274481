"""Outgoing links: campaign tracking parameters, added only where the campaign wants them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from campaigns.schema import UtmParameters


def with_utm(url: str, *, source: str, medium: str, campaign: str) -> str:
    """Add ``utm_*`` parameters, keeping any the link already has in their order."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    present = {key for key, _ in query}
    for key, value in (
        ("utm_source", source),
        ("utm_medium", medium),
        ("utm_campaign", campaign),
    ):
        if key not in present:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


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
