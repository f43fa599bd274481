from __future__ import annotations

import re
from pathlib import Path

import pytest

from content.rendering import (
    BUILTIN_TEMPLATES,
    RenderError,
    build_environment,
    render_template,
    render_text,
)


def workspace_with(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_initiative_override_wins_over_workspace_and_builtin(tmp_path: Path) -> None:
    root = workspace_with(
        tmp_path, {"social.txt": "workspace {{ item }}", "krefeld/social.txt": "krefeld {{ item }}"}
    )
    context = {"item": "x", "intro": None, "teaser": ""}
    assert (
        render_template(build_environment(root, "krefeld"), "social.txt", context, "w")
        == "krefeld x"
    )
    assert (
        render_template(build_environment(root, "erfurt"), "social.txt", context, "w")
        == "workspace x"
    )
    builtin = render_template(
        build_environment(tmp_path / "none", "x"),
        "social.txt",
        {"intro": None, "item": {"title": "T"}, "teaser": ""},
        "w",
    )
    assert builtin.strip() == "T"


def test_undefined_variable_names_template_file_line_campaign_and_initiative(
    tmp_path: Path,
) -> None:
    root = workspace_with(tmp_path, {"krefeld/social.txt": "Zeile eins\n{{ itme.title }}\n"})
    env = build_environment(root, "krefeld")
    with pytest.raises(RenderError) as caught:
        render_template(env, "social.txt", {"item": {}}, "campaign woche, initiative krefeld")
    message = str(caught.value)
    assert "templates/krefeld/social.txt:2:" in message
    assert "itme" in message
    assert "campaign woche, initiative krefeld" in message


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    root = workspace_with(tmp_path, {"social.txt": "a\nb\n{% if %}\n"})
    with pytest.raises(RenderError, match=r"social.txt:3:"):
        render_template(build_environment(root, "x"), "social.txt", {}, "w")


def test_sandbox_refuses_access_to_python_internals(tmp_path: Path) -> None:
    env = build_environment(tmp_path, "x")
    with pytest.raises(RenderError, match=r"campaigns/a\.yaml"):
        render_text(
            env,
            "{{ x.__class__.__mro__[1].__subclasses__() }}",
            {"x": "s"},
            origin="campaigns/a.yaml",
            where="w",
        )


def test_feed_text_is_escaped_in_html_but_not_in_text(tmp_path: Path) -> None:
    root = workspace_with(tmp_path, {"t.html": "<p>{{ title }}</p>", "t.txt": "{{ title }}"})
    env = build_environment(root, "x")
    title = "<script>alert(1)</script> & Co."
    assert render_template(env, "t.html", {"title": title}, "w") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co.</p>"
    )
    assert render_template(env, "t.txt", {"title": title}, "w") == title


def test_builtin_templates_include_nothing_so_the_unsandboxed_path_loads_only_them() -> None:
    """Built-ins render outside the sandbox; a tag that loads another template would let a
    workspace file in there, so none of them may use one."""
    tags = re.compile(r"{%-?\s*(include|extends|import|from)\b")
    for path in BUILTIN_TEMPLATES.iterdir():
        assert not tags.search(path.read_text()), path.name


def test_workspace_override_of_a_builtin_name_still_renders_in_the_sandbox(
    tmp_path: Path,
) -> None:
    root = workspace_with(tmp_path, {"newsletter.txt": "{{ x.__class__.__mro__[1] }}"})
    with pytest.raises(RenderError, match=r"templates/newsletter\.txt"):
        render_template(build_environment(root, "x"), "newsletter.txt", {"x": "s"}, "w")
    builtin = render_template(
        build_environment(tmp_path / "none", "x"),
        "social.txt",
        {"intro": None, "item": {"title": "T"}, "teaser": ""},
        "w",
    )
    assert builtin.strip() == "T"
