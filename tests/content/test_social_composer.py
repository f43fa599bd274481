"""The social composer on the example workspace: every platform's files, as a PR team gets them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from campaigns.schema import Channels, MastodonChannel, SocialDeliverable
from campaigns.workspace import Workspace, load_workspace
from content.composers.base import CompositionInput
from content.composers.social import compose_social
from content.images import IMAGE_LIMITS
from content.selection import Candidate
from content.social.counting import LIMITS, length
from content.social.extract import extract_hashtags, extract_urls, is_linkified
from content.social.instances import CACHE
from tests.content.loopback_json import JsonServer, json_server

DUE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SUMMARY = (
    "Das Programm der Woche der Industrie vom 9. bis 13. November 2026 ist veröffentlicht. "
    "In den sechs Modellregionen und bei 14 Partnerinitiativen finden 140 Veranstaltungen statt: "
    "Industriedialoge, Werkstattgespräche, Tage der offenen Tür und Betriebsbesuche für "
    "Schulklassen. Zum Auftakt stellen Sozialpartner und Modellregionen das Programm am Montag, "
    "9. November 2026, 10:00 Uhr, bei einem Pressetermin in Frankfurt am Main vor. Die Teilnahme "
    "an allen Veranstaltungen ist kostenfrei; Betriebe melden freie Führungen bei ihrer Initiative."
)
ITEM = Candidate(
    item_id="item-1",
    title="Woche der Industrie 2026: Programm mit 140 Veranstaltungen steht",
    summary=SUMMARY,
    url="https://zukunft-industrie.example.org/aktuelles/2026/woche-der-industrie-programm",
    published=datetime(2026, 11, 2, 7, 0, tzinfo=UTC),
    feeds=("bund",),
    tags=("national", "Woche der Industrie"),
)


def _input(workspace: Workspace, slug: str = "krefeld", **deliverable: object) -> CompositionInput:
    campaign = workspace.campaigns["woche-der-industrie"]
    spec = next(d for d in campaign.deliverables if d.id == "social")
    changed = spec.model_copy(update=deliverable)
    campaign = campaign.model_copy(
        update={"deliverables": [changed if d.id == "social" else d for d in campaign.deliverables]}
    )
    return CompositionInput(
        workspace_root=workspace.root,
        campaign_name="woche-der-industrie",
        campaign=campaign,
        deliverable_id="social",
        initiative=workspace.initiatives[slug],
        due_at=DUE,
        candidates=(),
        feed_titles={},
        item=ITEM,
        hashtags=workspace.hashtags,
        images=workspace.images,
    )


def _spec(inp: CompositionInput) -> SocialDeliverable:
    spec = next(d for d in inp.campaign.deliverables if d.id == inp.deliverable_id)
    assert isinstance(spec, SocialDeliverable)
    return spec


@pytest.fixture()
def workspace(example_workspace: Path) -> Workspace:
    return load_workspace(example_workspace)


def test_every_platform_gets_a_fitting_post_with_one_link_and_hashtags_at_the_end(
    workspace: Workspace,
) -> None:
    inp = _input(workspace)
    pieces = compose_social(inp, _spec(inp))
    assert [piece.platform for piece in pieces] == ["mastodon", "bluesky", "linkedin", "x"]
    for piece in pieces:
        assert piece.platform is not None
        post = next(f for f in piece.files if f.name == f"social-{piece.platform}.txt")
        text = post.content.decode()
        assert length(piece.platform, text) <= LIMITS[piece.platform]
        assert piece.facts["length"] == length(piece.platform, text)
        links = [url.value for url in extract_urls(text, without_protocol=False)]
        assert len(links) == 1 and is_linkified(links[0])
        last_line = text.splitlines()[-1]
        assert [f"#{tag.value}" for tag in extract_hashtags(last_line)] == last_line.split()
        assert last_line.split()[:2] == ["#WocheDerIndustrie", "#ZukunftDerIndustrie"]


def test_hashtag_count_per_platform(workspace: Workspace) -> None:
    inp = _input(workspace)
    counts = {p.platform: len(p.facts["hashtags"]) for p in compose_social(inp, _spec(inp))}  # type: ignore[arg-type]
    assert counts["x"] == counts["bluesky"] == 2
    assert 2 <= counts["mastodon"] <= 4
    assert 3 <= counts["linkedin"] <= 5


def test_bluesky_record_beside_the_post_has_facets_at_utf8_offsets(workspace: Workspace) -> None:
    inp = _input(workspace)
    bluesky = next(p for p in compose_social(inp, _spec(inp)) if p.platform == "bluesky")
    files = {f.name: f.content for f in bluesky.files}
    record = json.loads(files["social-bluesky.json"])
    text = files["social-bluesky.txt"].decode()
    assert record["text"] == text and record["langs"] == ["de"]
    encoded = text.encode()
    sliced = [
        encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in record["facets"]
    ]
    assert sliced[-2:] == ["#WocheDerIndustrie", "#ZukunftDerIndustrie"]
    link = next(f for f in record["facets"] if f["features"][0]["$type"].endswith("#link"))
    assert link["features"][0]["uri"].startswith(ITEM.url + "?utm_source=bluesky")


def test_images_are_resized_per_platform_and_carry_alt_text(workspace: Workspace) -> None:
    inp = _input(workspace)
    asset = workspace.images["woche-der-industrie"]
    for piece in compose_social(inp, _spec(inp)):
        files = {f.name: f for f in piece.files}
        media = json.loads(files[f"social-{piece.platform}-media.json"].content)
        assert [entry["file"] for entry in media] == [
            f"social-{piece.platform}-woche-der-industrie.png"
        ]
        entry = media[0]
        assert entry["alt"] == asset.alt and "Woche der Industrie" in entry["alt"]
        assert entry["credit"].startswith("Grafik: ")
        image_file = files[entry["file"]]
        assert image_file.media_type == "image/png"
        limits = IMAGE_LIMITS[piece.platform]  # type: ignore[index]
        assert len(image_file.content) <= limits.max_bytes
        with Image.open(__import__("io").BytesIO(image_file.content)) as image:
            assert image.size == (entry["width"], entry["height"])
            assert max(image.size) <= (limits.max_side or 10**6)


def test_images_limited_to_other_initiatives_are_left_out(workspace: Workspace) -> None:
    asset = workspace.images["woche-der-industrie"].model_copy(
        update={"initiatives": ["thueringen"]}
    )
    images = {asset.id: asset}
    inp = _input(workspace)
    inp = CompositionInput(**{**inp.__dict__, "images": images})
    names = [f.name for p in compose_social(inp, _spec(inp)) for f in p.files]
    assert not [name for name in names if "media" in name or name.endswith(".png")]


def test_thread_writes_numbered_posts_with_one_link(workspace: Workspace) -> None:
    inp = _input(workspace, thread=True)
    pieces = {p.platform: p for p in compose_social(inp, _spec(inp))}
    x_files = [f.name for f in pieces["x"].files if f.name.endswith(".txt")]
    assert len(x_files) > 1
    assert x_files == [f"social-x-{n}.txt" for n in range(1, len(x_files) + 1)]
    posts = [f.content.decode() for f in pieces["x"].files if f.name.endswith(".txt")]
    assert all(length("x", post) <= 280 for post in posts)
    assert sum(len(extract_urls(p, without_protocol=False)) for p in posts) == 1
    assert pieces["x"].facts["thread"] == [length("x", post) for post in posts]
    bluesky_json = [f.name for f in pieces["bluesky"].files if f.name.endswith(".json")]
    assert "social-bluesky-1.json" in bluesky_json
    # LinkedIn's 3.000 hold the whole text: one post, no numbering.
    assert [f.name for f in pieces["linkedin"].files if f.name.endswith(".txt")] == [
        "social-linkedin.txt"
    ]


@pytest.fixture()
def instance() -> Iterator[JsonServer]:
    CACHE.clear()
    with json_server() as server:
        yield server
    CACHE.clear()


def test_configured_mastodon_instance_sets_the_limit(
    workspace: Workspace, instance: JsonServer
) -> None:
    instance.routes["/api/v2/instance"] = (
        200,
        {"configuration": {"statuses": {"max_characters": 200, "characters_reserved_per_url": 23}}},
    )
    inp = _input(workspace)
    # The schema asks for https://; the loopback server speaks http, so build the channel as-is.
    channel = MastodonChannel.model_construct(instance=instance.url)
    initiative = inp.initiative.model_copy(update={"channels": Channels(mastodon=channel)})
    inp = CompositionInput(**{**inp.__dict__, "initiative": initiative})
    mastodon = next(p for p in compose_social(inp, _spec(inp)) if p.platform == "mastodon")
    text = next(f for f in mastodon.files if f.name == "social-mastodon.txt").content.decode()
    assert length("mastodon", text) <= 200
    assert mastodon.facts["limit"] == 200
    assert mastodon.facts["limit_source"] == f"{instance.url}/api/v2/instance"
    assert instance.requests == ["/api/v2/instance"]
