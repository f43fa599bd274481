"""`depesche new initiative`: a valid entry appended as text, an override folder, a checklist."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from campaigns.scaffold import PLACEHOLDER, ScaffoldError, scaffold_initiative
from campaigns.workspace import load_workspace, validate_workspace
from tests.services import ROOT, depesche_command, depesche_env


def depesche(*args: str) -> subprocess.CompletedProcess[str]:
    env = depesche_env()
    env["COLUMNS"] = "200"
    return subprocess.run(
        depesche_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_new_initiative_validates_and_keeps_the_file_as_it_was(example_workspace: Path) -> None:
    path = example_workspace / "initiatives.yaml"
    before = path.read_bytes()

    done = scaffold_initiative(
        example_workspace, "saarland", region="Saarland", place="Saarbrücken"
    )

    after = path.read_bytes()
    assert after.startswith(before)  # comments and formatting untouched: only appended
    assert validate_workspace(example_workspace) == []
    initiative = load_workspace(example_workspace).initiatives["saarland"]
    assert initiative.name == "Industrieinitiative Saarland"
    assert initiative.place == "Saarbrücken" and initiative.level == "Region"
    assert initiative.press_contact.name.startswith(PLACEHOLDER)
    assert initiative.brand.boilerplate.startswith(PLACEHOLDER)
    assert initiative.sender.email == "newsletter@saarland.example.org"
    assert after.decode().splitlines()[done.first_line - 1] == "  - slug: saarland"


def test_entry_follows_the_list_indentation_of_the_file(example_workspace: Path) -> None:
    path = example_workspace / "initiatives.yaml"
    path.write_text(
        "# Netzwerk\ninitiatives:\n- slug: a\n"
        + "".join(f"  {line}\n" for line in _entry_body(example_workspace))
    )

    scaffold_initiative(example_workspace, "neu")

    data = yaml.safe_load(path.read_text())
    assert [entry["slug"] for entry in data["initiatives"]] == ["a", "neu"]
    assert "\n- slug: neu\n" in path.read_text()


def _entry_body(workspace: Path) -> list[str]:
    """A minimal valid initiative body (everything after ``- slug: a``) from the example."""
    text = (workspace / "initiatives.yaml").read_text()
    first = yaml.safe_load(text)["initiatives"][0]
    first.pop("slug")
    first["feeds"] = []
    return yaml.safe_dump(first, allow_unicode=True, sort_keys=False).splitlines()


def test_override_folder_has_a_readme_listing_the_builtin_templates(
    example_workspace: Path,
) -> None:
    done = scaffold_initiative(example_workspace, "saarland")

    readme = example_workspace / "templates" / "saarland" / "README.md"
    assert readme in done.created
    text = readme.read_text()
    assert "`press_release.html`" in text and "`newsletter.html`" in text
    assert (example_workspace / "assets" / "saarland" / "README.md").is_file()


def test_existing_slug_and_bad_slug_change_nothing(example_workspace: Path) -> None:
    path = example_workspace / "initiatives.yaml"
    before = path.read_bytes()
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold_initiative(example_workspace, "krefeld")
    with pytest.raises(ScaffoldError, match="not a slug"):
        scaffold_initiative(example_workspace, "Saar Land")
    with pytest.raises(ScaffoldError, match="level"):
        scaffold_initiative(example_workspace, "saarland", level="Bezirk")
    assert path.read_bytes() == before
    assert not (example_workspace / "templates" / "saarland").exists()


def test_command_prints_the_checklist_and_the_workspace_validates(
    example_workspace: Path,
) -> None:
    result = depesche("new", "initiative", "rhein-neckar", str(example_workspace))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "initiatives.yaml:" in result.stdout
    for expected in ("Checkliste / checklist: rhein-neckar", "Pressekontakt", "press contact"):
        assert expected in result.stdout
    assert (
        "Industrieinitiative Rhein-Neckar" in (example_workspace / "initiatives.yaml").read_text()
    )
    validate = depesche("validate", str(example_workspace))
    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_command_refuses_an_existing_slug_with_exit_1(example_workspace: Path) -> None:
    result = depesche("new", "initiative", "krefeld", str(example_workspace))
    assert result.returncode == 1
    assert "already exists" in result.stderr
