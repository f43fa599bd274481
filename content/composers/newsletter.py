"""The newsletter and weekly digest: selected items around the PR team's own words.

Only what the campaign file or a feed supplies appears: an editorial only when one is written
for that issue's date, Termine only while they lie ahead (also as ``.ics`` attachments), partner
items in „Aus dem Netzwerk“ attributed to their source. One deliverable may name audiences
(companies, works councils, chambers, unions): each gets its own piece with its own intro and
selection weights. An initiative with nothing relevant gets, as the campaign decides, no issue
or a short one that says so: never an empty newsletter.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import css_inline
from jinja2.sandbox import ImmutableSandboxedEnvironment

from campaigns.schema import Audience, CalendarEntry, Interests, NewsletterDeliverable
from campaigns.triggers import localise
from content.calendar_ics import Termin, file_name, ics
from content.composers.base import (
    ComposedPiece,
    CompositionInput,
    FileData,
    item_use,
    teaser,
)
from content.email_message import UNSUBSCRIBE_PLACEHOLDER, Attachment, build_eml
from content.links import campaign_link
from content.rendering import build_environment, render_template, render_text
from content.selection import (
    CandidatePool,
    Choice,
    combine,
    pool_of,
    section_of,
    select,
    select_network,
)

TEASER_TOP = 600
TEASER = 380
REGIONAL, NATIONAL = "Aus den Regionen", "Bundesweit"
# Keeps @media rules (dark mode, narrow screens) in a <style> block; never fetches stylesheets.
INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

Decision = Literal["send", "skip", "short"]


@dataclass(frozen=True)
class Section:
    title: str
    items: list[dict[str, Any]]


def decide(choices: list[Choice], spec: NewsletterDeliverable) -> Decision:
    """Send when anything is relevant; otherwise what the campaign chose for a quiet week."""
    if choices:
        return "send"
    return spec.nothing_new


@lru_cache(maxsize=64)
def _environment(root: Path, override: str | None) -> ImmutableSandboxedEnvironment:
    """Initiatives without an override folder share one environment (and compiled templates).

    Jinja checks template files for changes on every lookup, so an edited template is seen.
    """
    return build_environment(root, override or "")


def environment(root: Path, slug: str) -> ImmutableSandboxedEnvironment:
    return _environment(root, slug if (root / "templates" / slug).is_dir() else None)


def on_dark(color: str) -> str:
    """The brand colour lightened for dark backgrounds, same hue: links stay readable."""
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    lightness = max(lightness, 0.72)
    channels = colorsys.hls_to_rgb(hue, lightness, min(saturation, 0.6))
    return "#" + "".join(f"{round(c * 255):02x}" for c in channels)


def _item_view(
    choice: Choice, inp: CompositionInput, width: int, audience: Audience | None
) -> dict[str, Any]:
    candidate = choice.candidate
    url = campaign_link(
        candidate.url,
        inp.campaign.utm,
        kind="newsletter",
        campaign=inp.campaign_name,
        source=inp.initiative.slug if audience is None else f"{inp.initiative.slug}-{audience.id}",
        medium="email",
    )
    source = inp.feed_titles.get(candidate.source, candidate.source)
    return {
        "title": candidate.title,
        "teaser": teaser(candidate.summary, width),
        "url": url,
        "source": source,
        "published": candidate.published,
    }


def _sections(
    rest: list[Choice],
    inp: CompositionInput,
    spec: NewsletterDeliverable,
    audience: Audience | None,
) -> list[Section]:
    """Topic sections in the order the campaign lists them; the rest by region or nation."""
    rules = [(s.title, s.topics) for s in spec.select.sections]
    grouped: dict[str, list[dict[str, Any]]] = {title: [] for title, _ in rules}
    grouped.setdefault(REGIONAL, [])
    grouped.setdefault(NATIONAL, [])
    for choice in rest:
        title = section_of(choice.candidate, rules)
        if title is None:
            title = NATIONAL if "national" in choice.candidate.tags else REGIONAL
        grouped[title].append(_item_view(choice, inp, TEASER, audience))
    return [Section(title, items) for title, items in grouped.items() if items]


def _upcoming(entries: list[CalendarEntry], inp: CompositionInput) -> list[Termin]:
    zone = ZoneInfo(inp.campaign.timezone)
    upcoming = []
    for entry in entries:
        start = localise(entry.start, zone)
        if start > inp.due_at:
            end = localise(entry.end, zone) if entry.end else None
            upcoming.append(Termin(entry.title, start, end, entry.place, entry.url))
    return sorted(upcoming, key=lambda t: t.start)


@dataclass(frozen=True)
class _Issue:
    """What every audience variant of one issue shares."""

    env: ImmutableSandboxedEnvironment
    pool: CandidatePool
    calendar: list[Termin]
    attachments: list[Attachment]
    partner_feeds: dict[str, str]


def _shared(inp: CompositionInput, spec: NewsletterDeliverable) -> _Issue:
    calendar = _upcoming(inp.campaign.calendar, inp)
    domain = inp.initiative.sender.email.partition("@")[2] or "depesche.invalid"
    attachments = [
        Attachment(
            file_name(termin),
            "text",
            "calendar",
            ics(
                termin,
                campaign=inp.campaign_name,
                organiser=inp.initiative.name,
                domain=domain,
                stamp=inp.due_at,
            ),
            (("method", "PUBLISH"), ("charset", "utf-8")),
        )
        for termin in calendar
    ]
    partner_feeds: dict[str, str] = {}
    if spec.network is not None:
        partner_feeds = dict(inp.partner_feeds)
        for feed in spec.network.feeds:
            partner_feeds.setdefault(feed, inp.feed_titles.get(feed, feed))
        for feed in inp.initiative.feeds:
            partner_feeds.pop(feed, None)
    return _Issue(
        env=environment(inp.workspace_root, inp.initiative.slug),
        pool=pool_of(inp.candidates),
        calendar=calendar,
        attachments=attachments,
        partner_feeds=partner_feeds,
    )


def compose_newsletter(inp: CompositionInput, spec: NewsletterDeliverable) -> list[ComposedPiece]:
    issue = _shared(inp, spec)
    variants: list[Audience | None] = list(spec.audiences) or [None]
    pieces = []
    for audience in variants:
        piece = _compose_variant(inp, spec, issue, audience)
        if piece is not None:
            pieces.append(piece)
    return pieces


def _interests(inp: CompositionInput, audience: Audience | None) -> Interests:
    base = inp.initiative.interests
    return combine(base, audience.interests) if audience is not None else base


def _compose_variant(
    inp: CompositionInput,
    spec: NewsletterDeliverable,
    issue: _Issue,
    audience: Audience | None,
) -> ComposedPiece | None:
    interests = _interests(inp, audience)
    rule = spec.select
    choices = select(
        issue.pool,
        interests,
        inp.initiative.feeds,
        now=inp.due_at,
        lookback=rule.lookback,
        max_items=rule.max_items,
        max_source_share=rule.max_source_share,
        half_life=rule.half_life,
    )
    decision = decide(choices, spec)
    if decision == "skip":
        return None
    network: list[Choice] = []
    if spec.network is not None and issue.partner_feeds:
        network = select_network(
            issue.pool,
            interests,
            issue.partner_feeds,
            now=inp.due_at,
            lookback=rule.lookback,
            max_items=spec.network.max_items,
            half_life=rule.half_life,
            exclude=[c.candidate.story for c in choices],
        )
    fmt = inp.fmt
    env = issue.env
    local_day = fmt.local(inp.due_at).date()
    week = fmt.week(inp.due_at)
    top = _item_view(choices[0], inp, TEASER_TOP, audience) if choices else None
    audience_view = {"id": audience.id, "name": audience.name} if audience else None
    text_context = {
        "initiative": inp.initiative,
        "campaign": inp.campaign,
        "week": week,
        "top": top,
        "audience": audience_view,
        "date": fmt.date_text(inp.due_at),
    }
    origin = inp.campaign_file

    def text(source: str) -> str:
        return render_text(env, source, text_context, origin=origin, where=inp.where).strip()

    subject = text(spec.subject)
    preheader = text(spec.preheader)
    editorial = spec.editorials.get(local_day)
    context = {
        **text_context,
        "lang": inp.initiative.locale.split("_")[0],
        "fmt": fmt,
        "subject": subject,
        "preheader": preheader,
        "issue_label": f"Ausgabe {week}/{fmt.local(inp.due_at).isocalendar().year}",
        "issued_at": inp.due_at,
        "greeting": "Sehr geehrte Damen und Herren,",
        "intro": text(audience.intro) if audience else None,
        "editorial": {
            "paragraphs": [p.strip() for p in editorial.text.split("\n\n") if p.strip()],
            "signed": editorial.signed,
        }
        if editorial
        else None,
        "nothing_new": {"since": inp.due_at - rule.lookback} if decision == "short" else None,
        "sections": _sections(choices[1:], inp, spec, audience),
        "calendar": [
            {"title": t.title, "start": t.start, "end": t.end, "place": t.place, "url": t.url}
            for t in issue.calendar
        ],
        "network": Section(
            spec.network.title, [_item_view(c, inp, TEASER, audience) for c in network]
        )
        if spec.network is not None and network
        else None,
        "signature": spec.signature,
        "brand": {
            "color": inp.initiative.brand.color,
            "on_dark": on_dark(inp.initiative.brand.color),
            "logo_url": _logo_url(inp.initiative.brand.logo),
        },
        "imprint": inp.initiative.imprint,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    html_name = spec.template or "newsletter.html"
    html = INLINER.inline(render_template(env, html_name, context, inp.where))
    plain = render_template(env, "newsletter.txt", context, inp.where)
    stem = "newsletter" if audience is None else f"newsletter-{audience.id}"
    sender = inp.initiative.sender
    suffix = f"/{audience.id}" if audience else ""
    eml = build_eml(
        key=f"{inp.campaign_name}/{inp.deliverable_id}/{inp.initiative.slug}"
        f"/{inp.due_at:%Y%m%dT%H%MZ}{suffix}",
        sender_name=sender.name,
        sender_email=sender.email,
        reply_to=sender.reply_to,
        subject=subject,
        preheader=preheader,
        text=plain,
        html=html,
        date=inp.due_at,
        attachments=issue.attachments,
    )
    files = [
        FileData(f"{stem}.html", "text/html", html.encode()),
        FileData(f"{stem}.txt", "text/plain", plain.encode()),
        FileData(f"{stem}.eml", "message/rfc822", eml),
        *(FileData(f"{stem}-{a.filename}", "text/calendar", a.content) for a in issue.attachments),
    ]
    return ComposedPiece(
        kind="newsletter",
        files=tuple(files),
        items=tuple(item_use(c) for c in choices) + tuple(item_use(c) for c in network),
        template=html_name,
        audience=audience.id if audience else None,
        facts={
            "subject": subject,
            "preheader": preheader,
            "decision": decision,
            "items": len(choices),
            "network_items": len(network),
            "termine": len(issue.calendar),
        },
    )


def _logo_url(logo: str | None) -> str | None:
    """Only an absolute https logo can be shown in a mail; a workspace path stays for print."""
    return logo if logo and logo.startswith("https://") else None
