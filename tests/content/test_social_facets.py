"""Bluesky facets: UTF-8 byte offsets that select exactly the link, tag or mention.

Each facet is checked by slicing the post's UTF-8 bytes at its offsets, which is what the
Bluesky app does; umlauts (2 bytes), decomposed umlauts, emoji (4 bytes) and ZWJ sequences
(many code points, one grapheme) before an entity all shift the offsets differently.
"""

from __future__ import annotations

from typing import Any

import pytest

from content.social.facets import FACET_TYPE, rich_text

FAMILY = "👨‍👩‍👧‍👦"


def _sliced(text: str, facet: dict[str, Any]) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


def _features(facets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (
            f["features"][0]["$type"].split("#")[1],
            next(v for k, v in f["features"][0].items() if k != "$type"),
        )
        for f in facets
    ]


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "Grüße aus Köln – Maß für Maß: ",
        "Gru\u0308ße (zerlegt) ",
        f"Familie {FAMILY} und 🇩🇪 ",
        "故人西辞 ",
        "z.\u00a0B. „Zitat“ ",
    ],
)
def test_offsets_select_link_tags_and_mention_after_multibyte_text(prefix: str) -> None:
    link = "https://zukunft-industrie.example.org/wöche-für-alle?utm_source=bluesky&x=1"
    text = (
        f"{prefix}Danke @presse.example.org!\n\n{link}\n\n#WocheDerIndustrie #Fachkräftesicherung"
    )
    rich = rich_text(text, {"presse.example.org": "did:plc:abc123"}.get)
    assert [_sliced(text, facet) for facet in rich.facets] == [
        "@presse.example.org",
        link,
        "#WocheDerIndustrie",
        "#Fachkräftesicherung",
    ]
    assert _features(rich.facets) == [
        ("mention", "did:plc:abc123"),
        ("link", link),
        ("tag", "WocheDerIndustrie"),
        ("tag", "Fachkräftesicherung"),
    ]
    assert all(facet["$type"] == FACET_TYPE for facet in rich.facets)
    assert rich.unresolved_mentions == []


def test_byte_offsets_differ_from_character_offsets() -> None:
    text = f"Köln {FAMILY} #Tag"
    (facet,) = rich_text(text).facets
    assert facet["index"] == {
        "byteStart": len("Köln ".encode()) + len(FAMILY.encode()) + 1,
        "byteEnd": len(text.encode()),
    }
    assert facet["index"]["byteStart"] != text.index("#")


def test_tag_after_emoji_without_space_is_no_tag_and_trailing_punctuation_is_left_out() -> None:
    text = "Start👍#NichtGetrennt und #Getrennt, dann #2026 und #Ende."
    rich = rich_text(text)
    assert [_sliced(text, facet) for facet in rich.facets] == ["#Getrennt", "#Ende"]


def test_bare_domain_becomes_an_https_link_and_url_fragment_is_no_tag() -> None:
    text = "Alle Termine: zukunft-industrie.example.org/termine. Und https://example.org/a#Teil"
    rich = rich_text(text)
    assert [_sliced(text, facet) for facet in rich.facets] == [
        "zukunft-industrie.example.org/termine",
        "https://example.org/a#Teil",
    ]
    assert rich.facets[0]["features"][0]["uri"] == "https://zukunft-industrie.example.org/termine"


def test_unresolved_mentions_stay_text_and_are_reported() -> None:
    text = "Mit @anna.example.org, @bob@chaos.social und kontakt@example.org"
    rich = rich_text(text, lambda handle: None)
    assert [f["features"][0]["$type"] for f in rich.facets] == []
    assert rich.unresolved_mentions == ["anna.example.org"]
    assert rich_text(text).unresolved_mentions == ["anna.example.org"]


def test_record_has_text_and_facets() -> None:
    rich = rich_text("Hallo #Welt")
    assert rich.record() == {"text": "Hallo #Welt", "facets": rich.facets}
