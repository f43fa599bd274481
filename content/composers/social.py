"""Social posts: one per platform, counted the way each platform counts, and always fitting.

The text is the item's own title and summary (nothing invented), an optional intro line the
campaign wrote, one link and the campaign's hashtags at the end.
"""

from __future__ import annotations

from campaigns.schema import SocialDeliverable
from content.composers.base import ComposedPiece, CompositionInput, FileData, ItemUse
from content.links import with_utm
from content.rendering import build_environment, render_template, render_text
from content.selection import score, select
from content.social.counting import LIMITS, length
from content.social.fitting import fit

MIN_TEASER = 60


def _concerns(inp: CompositionInput) -> bool:
    """An event item goes to initiatives it concerns: national news, or news matching interests."""
    assert inp.item is not None
    if "national" in inp.item.tags:
        return True
    own = frozenset(inp.initiative.feeds)
    return score(inp.item, inp.initiative.interests, own, inp.due_at).score > 0


def compose_social(inp: CompositionInput, spec: SocialDeliverable) -> list[ComposedPiece]:
    if inp.item is not None:
        item = inp.item
        if not _concerns(inp):
            return []
        reason = "item.published matched the trigger's filter"
        if spec.trigger.filter.keywords:
            reason += f" (keywords: {', '.join(spec.trigger.filter.keywords)})"
        use = ItemUse(item.url, reason, 0.0)
    else:
        choices = select(
            inp.candidates,
            inp.initiative.interests,
            inp.initiative.feeds,
            now=inp.due_at,
            lookback=spec.trigger.window,
            max_items=1,
        )
        if not choices:
            return []
        item = choices[0].candidate
        use = ItemUse(item.url, choices[0].reason, choices[0].score)
    env = build_environment(inp.workspace_root, inp.initiative.slug)
    intro = None
    if spec.intro:
        intro = render_text(
            env,
            spec.intro,
            {"initiative": inp.initiative, "campaign": inp.campaign},
            origin=inp.campaign_file,
            where=inp.where,
        ).strip()
    template = spec.template or "social.txt"

    def body(teaser: str) -> str:
        context = {"intro": intro, "item": item, "teaser": teaser}
        return render_template(env, template, context, inp.where).strip()

    full, short = body(item.summary), body("")
    pieces = []
    for platform in spec.platforms:
        link = item.url
        if inp.campaign.utm:
            link = with_utm(link, source=platform, medium="social", campaign=inp.campaign_name)
        post = fit(platform, full, link, list(spec.hashtags))
        if item.summary[:MIN_TEASER] not in post:
            # A teaser cut to a stub („Das…“) reads worse than none: post the title alone.
            post = fit(platform, short, link, list(spec.hashtags))
        pieces.append(
            ComposedPiece(
                kind="social",
                platform=platform,
                files=(FileData(f"social-{platform}.txt", "text/plain", post.encode()),),
                items=(use,),
                template=template,
                facts={"length": length(platform, post), "limit": LIMITS[platform]},
            )
        )
    return pieces
