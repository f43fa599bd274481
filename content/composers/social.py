"""Social posts: one per platform, counted the way each platform counts, and always fitting.

The text is the item's own title and summary (nothing invented), an optional intro line the
campaign wrote, one link and the campaign's hashtags at the end.
"""

from __future__ import annotations

from campaigns.schema import SocialDeliverable
from content.composers.base import ComposedPiece, CompositionInput, FileData, ItemUse
from content.links import with_utm
from content.rendering import build_environment, render_template, render_text
from content.selection import select
from content.social.counting import LIMITS, length
from content.social.fitting import fit


def compose_social(inp: CompositionInput, spec: SocialDeliverable) -> list[ComposedPiece]:
    if inp.item is not None:
        item = inp.item
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
    body = render_template(
        env, template, {"intro": intro, "item": item, "teaser": item.summary}, inp.where
    ).strip()
    pieces = []
    for platform in spec.platforms:
        link = item.url
        if inp.campaign.utm:
            link = with_utm(link, source=platform, medium="social", campaign=inp.campaign_name)
        post = fit(platform, body, link, list(spec.hashtags))
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
