"""The press release: German conventions around texts the PR team wrote in the campaign file.

The engine adds only what it can know: the Ortsmarke („Krefeld, 9. November 2026 – “), the
Sperrfrist line, the character count, the initiative's boilerplate and press contact. One
structured :class:`~content.press.release.PressRelease` feeds every format: Markdown and HTML
from templates, PDF from that HTML (print stylesheet), DOCX written directly.

Press photos named by the deliverable come from the workspace's image assets, which validation
has checked for alt text, caption, credit and consent. Each goes into the piece (and so into the
content pack) as a file beside the release, stripped of camera metadata; the HTML and Markdown
point at that file, the PDF carries it inline, the DOCX embeds it; all with caption and credit.
"""

from __future__ import annotations

from typing import Any

from campaigns.schema import PressReleaseDeliverable, Quote
from campaigns.triggers import resolve_instant
from campaigns.workspace import ASSETS_DIR
from content.composers.base import ComposedPiece, CompositionInput, FileData
from content.images import ImageLimits, resize_for
from content.press.pdf import render_pdf
from content.press.release import IMAGE_REPRINT, PressRelease, ReleaseImage, ReleaseQuote
from content.press.word import render_docx
from content.rendering import build_environment, render_template, render_text

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Print wants the full resolution; the cap keeps a content pack small enough to mail.
PRESS_IMAGE_LIMITS = ImageLimits(max_bytes=10 * 1024 * 1024, max_side=6000)


def _quotes_for(quotes: list[Quote], slug: str) -> list[Quote]:
    return [q for q in quotes if q.initiatives is None or slug in q.initiatives]


def _images(inp: CompositionInput, spec: PressReleaseDeliverable) -> tuple[ReleaseImage, ...]:
    """The deliverable's photos this initiative may use, ready to print (metadata stripped)."""
    found = []
    for image_id in spec.image_ids:
        asset = inp.images.get(image_id)
        if asset is None:
            raise ValueError(
                f"image {image_id!r} is not in the workspace's assets/images.yaml ({inp.where})"
            )
        if asset.initiatives is not None and inp.initiative.slug not in asset.initiatives:
            continue
        data = (inp.workspace_root / ASSETS_DIR / asset.file).read_bytes()
        image = resize_for(data, PRESS_IMAGE_LIMITS)
        found.append(
            ReleaseImage(
                file=f"press_release-{asset.id}.{image.extension}",
                media_type=image.media_type,
                content=image.content,
                width=image.width,
                height=image.height,
                alt=asset.alt,
                caption=asset.caption,
                credit=asset.credit,
            )
        )
    return tuple(found)


def build_release(inp: CompositionInput, spec: PressReleaseDeliverable) -> PressRelease:
    """The release's texts, rendered in the sandbox, with the parts the engine adds."""
    fmt = inp.fmt
    env = build_environment(inp.workspace_root, inp.initiative.slug)
    text_context = {"initiative": inp.initiative, "campaign": inp.campaign}

    def text(source: str) -> str:
        return render_text(
            env, source, text_context, origin=inp.campaign_file, where=inp.where
        ).strip()

    headline = text(spec.headline)
    lead = text(spec.lead)
    body = tuple(text(paragraph) for paragraph in spec.body)
    quotes = tuple(
        # „…“, sagt X: a closing full stop of the quote gives way to the attribution.
        ReleaseQuote(text(q.text).removesuffix("."), q.name, q.function)
        for q in _quotes_for(spec.quotes, inp.initiative.slug)
    )
    place = spec.place or inp.initiative.place
    dateline = f"{place}, {fmt.date_text(inp.due_at)} – "
    embargo = None
    if spec.embargo is not None:
        embargo = fmt.datetime_long(resolve_instant(spec.embargo, inp.campaign))
    counted = "\n".join([headline, dateline + lead, *body] + [q.sentence for q in quotes])
    return PressRelease(
        initiative_name=inp.initiative.name,
        brand_color=inp.initiative.brand.color,
        lang=inp.initiative.locale.split("_")[0],
        locale=inp.initiative.locale,
        headline=headline,
        subline=text(spec.subline) if spec.subline else None,
        dateline=dateline,
        lead=lead,
        body=body,
        quotes=quotes,
        embargo=embargo,
        characters=len(counted),
        char_count=fmt.number(len(counted)),
        boilerplate=inp.initiative.brand.boilerplate,
        contact=inp.initiative.press_contact,
        issued_at=inp.due_at,
        images=_images(inp, spec),
    )


def compose_press_release(
    inp: CompositionInput, spec: PressReleaseDeliverable
) -> list[ComposedPiece]:
    release = build_release(inp, spec)
    env = build_environment(inp.workspace_root, inp.initiative.slug)
    context: dict[str, Any] = {
        "lang": release.lang,
        "initiative": inp.initiative,
        "headline": release.headline,
        "subline": release.subline,
        "dateline": release.dateline,
        "lead": release.lead,
        "body": list(release.body),
        "quotes": [
            {"text": q.text, "name": q.name, "function": q.function} for q in release.quotes
        ],
        "embargo": release.embargo,
        "char_count": release.char_count,
        "contact": release.contact,
        "issued_at": release.issued_at.isoformat(),
        "images": _image_views(release, inline=False),
        "image_reprint": IMAGE_REPRINT,
    }
    markdown = render_template(env, "press_release.md", context, inp.where)
    html_name = spec.template or "press_release.html"
    html = render_template(env, html_name, context, inp.where)
    printed = html
    if release.images:  # the PDF renderer reads nothing beside the HTML: images go inline
        inline = {**context, "images": _image_views(release, inline=True)}
        printed = render_template(env, html_name, inline, inp.where)
    facts: dict[str, object] = {
        "headline": release.headline,
        "characters": release.characters,
        "embargo": release.embargo,
    }
    if release.images:
        facts["images"] = [image.file for image in release.images]
    return [
        ComposedPiece(
            kind="press_release",
            files=(
                FileData("press_release.md", "text/markdown", markdown.encode()),
                FileData("press_release.html", "text/html", html.encode()),
                FileData(
                    "press_release.pdf",
                    "application/pdf",
                    render_pdf(printed, base_dir=inp.workspace_root),
                ),
                FileData("press_release.docx", DOCX_TYPE, render_docx(release)),
                *(FileData(i.file, i.media_type, i.content) for i in release.images),
            ),
            template=html_name,
            facts=facts,
        )
    ]


def _image_views(release: PressRelease, *, inline: bool) -> list[dict[str, object]]:
    return [
        {
            "src": image.data_uri if inline else image.file,
            "file": image.file,
            "alt": image.alt,
            "caption": image.caption,
            "credit": image.credit,
            "width": image.width,
            "height": image.height,
        }
        for image in release.images
    ]
