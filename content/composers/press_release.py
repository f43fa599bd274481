"""The press release: German conventions around texts the PR team wrote in the campaign file.

The engine adds only what it can know: the Ortsmarke („Krefeld, 9. November 2026 – “), the
Sperrfrist line, the character count, the initiative's boilerplate and press contact.
"""

from __future__ import annotations

from typing import Any

from campaigns.schema import PressReleaseDeliverable, Quote
from campaigns.triggers import resolve_instant
from content.composers.base import ComposedPiece, CompositionInput, FileData
from content.rendering import build_environment, render_template, render_text


def _quotes_for(quotes: list[Quote], slug: str) -> list[Quote]:
    return [q for q in quotes if q.initiatives is None or slug in q.initiatives]


def compose_press_release(
    inp: CompositionInput, spec: PressReleaseDeliverable
) -> list[ComposedPiece]:
    fmt = inp.fmt
    env = build_environment(inp.workspace_root, inp.initiative.slug)
    text_context = {"initiative": inp.initiative, "campaign": inp.campaign}

    def text(source: str) -> str:
        return render_text(
            env, source, text_context, origin=inp.campaign_file, where=inp.where
        ).strip()

    headline = text(spec.headline)
    subline = text(spec.subline) if spec.subline else None
    lead = text(spec.lead)
    body = [text(paragraph) for paragraph in spec.body]
    quotes = [
        # „…“, sagt X: a closing full stop of the quote gives way to the attribution.
        {"text": text(q.text).removesuffix("."), "name": q.name, "function": q.function}
        for q in _quotes_for(spec.quotes, inp.initiative.slug)
    ]
    place = spec.place or inp.initiative.place
    dateline = f"{place}, {fmt.date_text(inp.due_at)} – "
    embargo = None
    if spec.embargo is not None:
        embargo = fmt.datetime_long(resolve_instant(spec.embargo, inp.campaign))
    counted = "\n".join(
        [headline, dateline + lead, *body]
        + [f"„{q['text']}“, sagt {q['name']}, {q['function']}." for q in quotes]
    )
    context: dict[str, Any] = {
        "lang": inp.initiative.locale.split("_")[0],
        "initiative": inp.initiative,
        "headline": headline,
        "subline": subline,
        "dateline": dateline,
        "lead": lead,
        "body": body,
        "quotes": quotes,
        "embargo": embargo,
        "char_count": fmt.number(len(counted)),
        "contact": inp.initiative.press_contact,
    }
    markdown = render_template(env, "press_release.md", context, inp.where)
    html_name = spec.template or "press_release.html"
    html = render_template(env, html_name, context, inp.where)
    return [
        ComposedPiece(
            kind="press_release",
            files=(
                FileData("press_release.md", "text/markdown", markdown.encode()),
                FileData("press_release.html", "text/html", html.encode()),
            ),
            template=html_name,
            facts={"headline": headline, "characters": len(counted), "embargo": embargo},
        )
    ]
