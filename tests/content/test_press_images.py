"""Press images are checked like social images: an id the assets do not know stops validation
with the file, the line and the field, for ``image:`` as for ``images:``."""

from __future__ import annotations

from pathlib import Path

from campaigns.workspace import validate_workspace

CAMPAIGN = "campaigns/woche-der-industrie.yaml"
NAMED = "    image: woche-der-industrie\n"


def campaign_with(workspace: Path, replacement: str) -> int:
    """Replace the example's press image line; returns its line number."""
    path = workspace / CAMPAIGN
    text = path.read_text()
    assert text.count(NAMED) == 1
    line = text[: text.index(NAMED)].count("\n") + 1
    path.write_text(text.replace(NAMED, replacement))
    return line


def test_unknown_press_image_names_file_line_and_field(example_workspace: Path) -> None:
    line = campaign_with(example_workspace, "    image: werkhalle-krefeld\n")
    problems = [str(p) for p in validate_workspace(example_workspace)]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{example_workspace / CAMPAIGN}:{line}: deliverables.")
    assert ".image: unknown image 'werkhalle-krefeld'" in problems[0]
    assert "woche-der-industrie" in problems[0]  # the ids there are


def test_unknown_id_in_a_list_of_press_images_names_its_index(example_workspace: Path) -> None:
    line = campaign_with(
        example_workspace,
        "    images:\n      - woche-der-industrie\n      - wochen-der-industrie\n",
    )
    problems = [str(p) for p in validate_workspace(example_workspace)]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{example_workspace / CAMPAIGN}:{line + 2}: deliverables.")
    assert ".images.1: unknown image 'wochen-der-industrie' (did you mean" in problems[0]


def test_example_press_image_is_valid(example_workspace: Path) -> None:
    assert validate_workspace(example_workspace) == []
