"""Social posts: one per platform, counted the way each platform counts, and always fitting.

The text is the item's own title and summary (nothing invented), an optional intro line the
campaign wrote, one link and hashtags from the workspace's canonical list at the end. Per
platform: the limit (a configured Mastodon instance's own), the number of hashtags, a thread
instead of a shortened text when the deliverable asks for one, Bluesky's facets as JSON beside
the text, and the deliverable's images resized to the platform's limits with their alt texts.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from campaigns.schema import ImageAsset, SocialDeliverable
from content.composers.base import ComposedPiece, CompositionInput, FileData, ItemUse
from content.images import IMAGE_LIMITS, ImageLimits, resize_for
from content.links import campaign_link
from content.rendering import RenderError, build_environment, render_template, render_text
from content.selection import Candidate, score, select
from content.social.counting import LIMITS, length
from content.social.extract import is_linkified
from content.social.facets import DidResolver, rich_text
from content.social.fitting import fit
from content.social.hashtags import choose_hashtags
from content.social.instances import handle_resolver, mastodon_limits
from content.social.threads import thread

MIN_TEASER = 60
ASSETS_DIR = "assets"


@dataclass(frozen=True)
class PlatformRules:
    """What one platform allows this initiative: text limit, URL weight, image limits."""

    limit: int
    url_length: int | None
    images: ImageLimits
    source: str


def _rules(platform: str, inp: CompositionInput, run: Hashable) -> PlatformRules:
    channel = inp.initiative.channels.mastodon
    if platform != "mastodon" or channel is None:
        return PlatformRules(LIMITS[platform], None, IMAGE_LIMITS[platform], "default")
    instance = mastodon_limits(channel.instance, run)
    default_images = IMAGE_LIMITS["mastodon"]
    images = ImageLimits(
        max_bytes=min(default_images.max_bytes, instance.image_size_limit),
        max_pixels=min(
            default_images.max_pixels or instance.image_matrix_limit, instance.image_matrix_limit
        ),
    )
    return PlatformRules(
        instance.max_characters, instance.characters_reserved_per_url, images, instance.source
    )


def _concerns(inp: CompositionInput) -> bool:
    """An event item goes to initiatives it concerns: national news, or news matching interests."""
    assert inp.item is not None
    if "national" in inp.item.tags:
        return True
    own = frozenset(inp.initiative.feeds)
    return score(inp.item, inp.initiative.interests, own, inp.due_at).score > 0


def _chosen_item(
    inp: CompositionInput, spec: SocialDeliverable
) -> tuple[Candidate, ItemUse] | None:
    if inp.item is not None:
        if not _concerns(inp):
            return None
        reason = "item.published matched the trigger's filter"
        if spec.trigger.filter.keywords:
            reason += f" (keywords: {', '.join(spec.trigger.filter.keywords)})"
        return inp.item, ItemUse(inp.item.url, reason, 0.0)
    choices = select(
        inp.candidates,
        inp.initiative.interests,
        inp.initiative.feeds,
        now=inp.due_at,
        lookback=spec.trigger.window,
        max_items=1,
    )
    if not choices:
        return None
    return choices[0].candidate, ItemUse(
        choices[0].candidate.url, choices[0].reason, choices[0].score
    )


def _images(inp: CompositionInput, spec: SocialDeliverable) -> list[tuple[ImageAsset, bytes]]:
    """The deliverable's images this initiative may use, with the bytes of their files."""
    found = []
    for image_id in spec.images:
        asset = inp.images[image_id]
        if asset.initiatives is not None and inp.initiative.slug not in asset.initiatives:
            continue
        found.append((asset, (inp.workspace_root / ASSETS_DIR / asset.file).read_bytes()))
    return found


def _json(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def _post_names(platform: str, count: int) -> list[str]:
    if count == 1:
        return [f"social-{platform}.txt"]
    return [f"social-{platform}-{number}.txt" for number in range(1, count + 1)]


def compose_social(inp: CompositionInput, spec: SocialDeliverable) -> list[ComposedPiece]:
    chosen = _chosen_item(inp, spec)
    if chosen is None:
        return []
    item, use = chosen
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
    # One run is one slot: servers are asked once per slot, whatever the number of initiatives.
    run = (inp.campaign_name, inp.deliverable_id, inp.due_at.isoformat())
    bluesky = inp.initiative.channels.bluesky
    resolver = handle_resolver(bluesky.service if bluesky else None, run)
    images = _images(inp, spec)
    language = inp.initiative.locale.split("_")[0]
    pieces = []
    for platform in spec.platforms:
        rules = _rules(platform, inp, run)
        link = campaign_link(
            item.url,
            inp.campaign.utm,
            kind="social",
            campaign=inp.campaign_name,
            source=platform,
            medium="social",
        )
        if not is_linkified(link):
            message = f"link {link!r} would not be a clickable link on {platform}"
            raise RenderError(template, None, message, inp.where)
        tags = choose_hashtags(
            platform,
            spec.hashtags,
            inp.hashtags,
            inp.initiative.interests,
            f"{item.title} {item.summary}",
        )
        limit, url_length = rules.limit, rules.url_length
        if spec.thread:
            posts = thread(platform, full, link, tags, limit=limit, url_length=url_length)
        else:
            post = fit(platform, full, link, tags, limit=limit, url_length=url_length)
            if item.summary[:MIN_TEASER] not in post:
                # A teaser cut to a stub („Das…“) reads worse than none: post the title alone.
                post = fit(platform, short, link, tags, limit=limit, url_length=url_length)
            posts = [post]
        files, facts = _post_files(platform, posts, resolver, language, rules)
        files += _image_files(platform, images, rules)
        facts["hashtags"] = [tag for tag in tags if f"#{tag}" in posts[0].split()]
        pieces.append(
            ComposedPiece(
                kind="social",
                platform=platform,
                files=tuple(files),
                items=(use,),
                template=template,
                facts=facts,
            )
        )
    return pieces


def _post_files(
    platform: str,
    posts: list[str],
    resolver: DidResolver | None,
    language: str,
    rules: PlatformRules,
) -> tuple[list[FileData], dict[str, object]]:
    """The post texts, Bluesky's records beside them, and the counted lengths."""
    files = []
    unresolved: list[str] = []
    for name, post in zip(_post_names(platform, len(posts)), posts, strict=True):
        files.append(FileData(name, "text/plain", post.encode()))
        if platform == "bluesky":
            rich = rich_text(post, resolver)
            unresolved += rich.unresolved_mentions
            record = {**rich.record(), "langs": [language]}
            files.append(
                FileData(name.removesuffix(".txt") + ".json", "application/json", _json(record))
            )
    lengths = [length(platform, post, url_length=rules.url_length) for post in posts]
    facts: dict[str, object] = {"length": max(lengths), "limit": rules.limit}
    if len(posts) > 1:
        facts["thread"] = lengths
    if rules.source != "default":
        facts["limit_source"] = rules.source
    if unresolved:
        facts["unresolved_mentions"] = sorted(set(unresolved))
    return files, facts


def _image_files(
    platform: str, images: list[tuple[ImageAsset, bytes]], rules: PlatformRules
) -> list[FileData]:
    """Each image resized for the platform, and ``social-<platform>-media.json`` naming each
    file with its alt text, caption and credit (attached to the first post of a thread)."""
    if not images:
        return []
    files, media = [], []
    for asset, data in images:
        resized = resize_for(data, rules.images)
        name = f"social-{platform}-{asset.id}.{resized.extension}"
        files.append(FileData(name, resized.media_type, resized.content))
        media.append(
            {
                "file": name,
                "alt": asset.alt,
                "caption": asset.caption,
                "credit": asset.credit,
                "width": resized.width,
                "height": resized.height,
                "bytes": len(resized.content),
            }
        )
    files.append(FileData(f"social-{platform}-media.json", "application/json", _json(media)))
    return files
