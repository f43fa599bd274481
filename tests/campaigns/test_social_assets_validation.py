"""Validation of hashtags.yaml, assets/images.yaml, channels, and what campaigns take from them.

Each test breaks one thing in a copy of the example and expects the exact line and field a
person would be sent to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.workspace import load_workspace, validate_workspace

SOCIAL = "campaigns/woche-der-industrie.yaml"


def _problems(root: Path) -> list[str]:
    return [
        str(problem).removeprefix(root.as_posix() + "/") for problem in validate_workspace(root)
    ]


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_example_loads_hashtags_and_images(example_workspace: Path) -> None:
    workspace = load_workspace(example_workspace)
    assert workspace.hashtags[0].tag == "ZukunftDerIndustrie"
    assert set(workspace.images) == {"woche-der-industrie"}
    assert _problems(example_workspace) == []


def test_deliverable_hashtag_must_be_in_the_canonical_list(example_workspace: Path) -> None:
    campaign = example_workspace / SOCIAL
    _replace(
        campaign,
        "hashtags: [WocheDerIndustrie, ZukunftDerIndustrie]",
        "hashtags: [WocheDerIndustri, ZukunftDerIndustrie]",
    )
    line = _line_of(campaign, "hashtags: [WocheDerIndustri,")
    assert _problems(example_workspace) == [
        f"{SOCIAL}:{line}: deliverables.2.hashtags.0: unknown hashtag 'WocheDerIndustri' "
        "(did you mean 'WocheDerIndustrie'?) in hashtags.yaml (the canonical list)"
    ]


def test_deliverable_hashtags_need_the_list(example_workspace: Path) -> None:
    (example_workspace / "hashtags.yaml").unlink()
    problems = _problems(example_workspace)
    assert len(problems) == 2
    assert all("hashtags.yaml (the canonical list) is missing" in p for p in problems)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("Woche_der_Industrie", "must be CamelCase"),
        ("IGBCE", "ALL CAPS"),
        ("#Krefeld", "must be CamelCase"),
        ("zukunftDerIndustrie", "must be CamelCase"),
    ],
)
def test_canonical_hashtags_are_camel_case(example_workspace: Path, tag: str, message: str) -> None:
    path = example_workspace / "hashtags.yaml"
    _replace(path, "  - tag: Mittelrhein\n", f"  - tag: '{tag}'\n")
    line = _line_of(path, f"'{tag}'")
    (problem,) = _problems(example_workspace)
    assert problem.startswith(f"hashtags.yaml:{line}: hashtags.")
    assert message in problem


def test_duplicate_canonical_hashtag(example_workspace: Path) -> None:
    path = example_workspace / "hashtags.yaml"
    _replace(path, "  - tag: Mittelrhein\n", "  - tag: Krefeld\n")
    (problem,) = _problems(example_workspace)
    assert "duplicate hashtag 'Krefeld'" in problem


IMAGES = "assets/images.yaml"


def test_image_needs_alt_text_caption_credit_and_consent(example_workspace: Path) -> None:
    path = example_workspace / IMAGES
    text = path.read_text()
    start = text.index("    alt: >-")
    end = text.index("    caption:")
    path.write_text(text[:start] + text[end:])
    assert _problems(example_workspace) == [f"{IMAGES}:5: images.0.alt: missing required key 'alt'"]


def test_people_shown_require_documented_consent(example_workspace: Path) -> None:
    path = example_workspace / IMAGES
    _replace(path, "people_shown: false", "people_shown: true")
    assert _problems(example_workspace) == [
        f"{IMAGES}:{_line_of(path, 'people_shown: true')}: images.0.consent: people are shown: "
        "give consent.obtained_on and consent.record (§ 22 KUG)"
    ]
    _replace(
        path,
        "people_shown: true",
        "people_shown: true\n      obtained_on: 2026-10-01\n      record: Einwilligungen/2026-17",
    )
    assert _problems(example_workspace) == []


def test_alt_text_must_describe_not_announce(example_workspace: Path) -> None:
    path = example_workspace / IMAGES
    _replace(
        path, "      Grafik zur Woche der Industrie:", "      Bild von der Woche der Industrie:"
    )
    (problem,) = _problems(example_workspace)
    assert "images.0.alt" in problem and "Bild von" in problem


def test_credit_names_the_kind_of_image(example_workspace: Path) -> None:
    path = example_workspace / IMAGES
    _replace(path, "credit: 'Grafik: Bündnis Zukunft der Industrie'", "credit: Bündnis")
    (problem,) = _problems(example_workspace)
    assert f"{IMAGES}:{_line_of(path, 'credit: Bündnis')}: images.0.credit:" in problem


def test_image_file_must_exist_and_be_an_image(example_workspace: Path) -> None:
    path = example_workspace / IMAGES
    _replace(path, "file: woche-der-industrie.png", "file: fehlt.png")
    line = _line_of(path, "file: fehlt.png")
    (problem,) = _problems(example_workspace)
    assert problem.startswith(f"{IMAGES}:{line}: images.0.file: image file not found")
    (example_workspace / "assets" / "fehlt.png").write_text("kein Bild")
    (problem,) = _problems(example_workspace)
    assert "is not a readable image" in problem
    _replace(path, "file: fehlt.png", "file: ../initiatives.yaml")
    (problem,) = _problems(example_workspace)
    assert "must be a path inside assets/" in problem


def test_deliverable_images_must_exist(example_workspace: Path) -> None:
    campaign = example_workspace / SOCIAL
    _replace(campaign, "images: [woche-der-industrie]", "images: [woche-der-industri]")
    line = _line_of(campaign, "images: [woche-der-industri]")
    assert _problems(example_workspace) == [
        f"{SOCIAL}:{line}: deliverables.2.images.0: unknown image 'woche-der-industri' "
        "(did you mean 'woche-der-industrie'?)"
    ]


def test_mastodon_channel_takes_an_https_instance_and_no_credentials(
    example_workspace: Path,
) -> None:
    path = example_workspace / "initiatives.yaml"
    _replace(
        path,
        "    feeds: [krefeld]\n",
        "    feeds: [krefeld]\n    channels:\n      mastodon:\n"
        "        instance: https://social.example.org\n        access_token: geheim\n",
    )
    (problem,) = _problems(example_workspace)
    assert "channels.mastodon.access_token" in problem
    _replace(path, "        access_token: geheim\n", "")
    assert _problems(example_workspace) == []
    workspace = load_workspace(example_workspace)
    channel = workspace.initiatives["krefeld"].channels.mastodon
    assert channel is not None and channel.instance == "https://social.example.org"
    _replace(path, "instance: https://social.example.org", "instance: http://social.example.org")
    (problem,) = _problems(example_workspace)
    assert "channels.mastodon.instance" in problem


def test_revision_changes_with_hashtags_and_images(example_workspace: Path) -> None:
    before = load_workspace(example_workspace).revision
    path = example_workspace / "hashtags.yaml"
    path.write_text(path.read_text() + "  - tag: Neu\n")
    after_tags = load_workspace(example_workspace).revision
    image = example_workspace / "assets" / "woche-der-industrie.png"
    image.write_bytes(image.read_bytes() + b"\0")
    assert len({before, after_tags, load_workspace(example_workspace).revision}) == 3
