"""The newsletter and weekly digest: selected items around the PR team's own words.

Only what the campaign file or a feed supplies appears: an editorial only when one is written
for that issue's date, Termine only while they lie ahead. An initiative with nothing relevant
gets no issue at all rather than an empty one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import css_inline

from campaigns.schema import CalendarEntry, NewsletterDeliverable
from campaigns.triggers import localise
from content.composers.base import (
    ComposedPiece,
    CompositionInput,
    FileData,
    item_use,
    teaser,
)
from content.email_message import UNSUBSCRIBE_PLACEHOLDER, build_eml
from content.links import with_utm
from content.rendering import build_environment, render_template, render_text
from content.selection import Choice, select

TEASER_TOP = 600
TEASER = 380


@dataclass(frozen=True)
class Section:
    title: str
    items: list[dict[str, Any]]


def _item_view(choice: Choice, inp: CompositionInput, width: int) -> dict[str, Any]:
    candidate = choice.candidate
    url = candidate.url
    if inp.campaign.utm:
        url = with_utm(url, source=inp.initiative.slug, medium="email", campaign=inp.campaign_name)
    source = inp.feed_titles.get(candidate.feeds[0], candidate.feeds[0]) if candidate.feeds else ""
    return {
        "title": candidate.title,
        "teaser": teaser(candidate.summary, width),
        "url": url,
        "source": source,
        "published": candidate.published,
    }


def _sections(rest: list[Choice], inp: CompositionInput) -> list[Section]:
    regional = [c for c in rest if "national" not in c.candidate.tags]
    national = [c for c in rest if "national" in c.candidate.tags]
    sections = [
        Section("Aus den Regionen", [_item_view(c, inp, TEASER) for c in regional]),
        Section("Bundesweit", [_item_view(c, inp, TEASER) for c in national]),
    ]
    return [section for section in sections if section.items]


def _upcoming(entries: list[CalendarEntry], inp: CompositionInput) -> list[dict[str, Any]]:
    zone = ZoneInfo(inp.campaign.timezone)
    upcoming = []
    for entry in entries:
        start = localise(entry.start, zone)
        if start > inp.due_at:
            end = localise(entry.end, zone) if entry.end else None
            upcoming.append(
                {
                    "title": entry.title,
                    "start": start,
                    "end": end,
                    "place": entry.place,
                    "url": entry.url,
                }
            )
    return sorted(upcoming, key=lambda e: e["start"])


def compose_newsletter(inp: CompositionInput, spec: NewsletterDeliverable) -> list[ComposedPiece]:
    choices = select(
        inp.candidates,
        inp.initiative.interests,
        inp.initiative.feeds,
        now=inp.due_at,
        lookback=spec.select.lookback,
        max_items=spec.select.max_items,
    )
    if not choices:
        return []
    fmt = inp.fmt
    env = build_environment(inp.workspace_root, inp.initiative.slug)
    local_day = fmt.local(inp.due_at).date()
    week = fmt.week(inp.due_at)
    top, rest = choices[0], choices[1:]
    top_view = _item_view(top, inp, TEASER_TOP)
    text_context = {
        "initiative": inp.initiative,
        "campaign": inp.campaign,
        "week": week,
        "top": top_view,
        "date": fmt.date_text(inp.due_at),
    }
    origin = inp.campaign_file
    subject = render_text(env, spec.subject, text_context, origin=origin, where=inp.where).strip()
    preheader = render_text(
        env, spec.preheader, text_context, origin=origin, where=inp.where
    ).strip()
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
        "editorial": {
            "paragraphs": [p.strip() for p in editorial.text.split("\n\n") if p.strip()],
            "signed": editorial.signed,
        }
        if editorial
        else None,
        "sections": _sections(rest, inp),
        "calendar": _upcoming(inp.campaign.calendar, inp),
        "signature": spec.signature,
        "brand": {"color": inp.initiative.brand.color, "logo_url": None},
        "imprint": inp.initiative.imprint,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    html_name = spec.template or "newsletter.html"
    html = render_template(env, html_name, context, inp.where)
    html = css_inline.inline(html)
    text = render_template(env, "newsletter.txt", context, inp.where)
    sender = inp.initiative.sender
    eml = build_eml(
        key=f"{inp.campaign_name}/{inp.deliverable_id}/{inp.initiative.slug}/{inp.due_at:%Y%m%dT%H%MZ}",
        sender_name=sender.name,
        sender_email=sender.email,
        reply_to=sender.reply_to,
        subject=subject,
        preheader=preheader,
        text=text,
        html=html,
        date=inp.due_at,
    )
    return [
        ComposedPiece(
            kind="newsletter",
            files=(
                FileData("newsletter.html", "text/html", html.encode()),
                FileData("newsletter.txt", "text/plain", text.encode()),
                FileData("newsletter.eml", "message/rfc822", eml),
            ),
            items=tuple(item_use(c) for c in choices),
            template=html_name,
            facts={"subject": subject, "preheader": preheader},
        )
    ]
