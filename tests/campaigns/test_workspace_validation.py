"""Workspace validation: every problem named by file, line and field, all of them at once.

Workspaces are built in ``tmp_path`` from small valid files; each test breaks one thing and checks
the exact line a person would be sent to, because ``path:line: field: message`` is the contract
editors and CI rely on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns import workspace as workspace_module
from campaigns.schema import NewsletterDeliverable, SocialDeliverable
from campaigns.workspace import (
    Problem,
    WorkspaceInvalid,
    load_workspace,
    validate_workspace,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "zukunft-der-industrie"

CONFIG = """\
[workspace]
name = "Testnetz"
timezone = "Europe/Berlin"
"""

INITIATIVE = """\
  - slug: {slug}
    name: Industriedialog {slug}
    level: Land
    region: Baden-Württemberg
    place: Stuttgart
    tags: [land]
    feeds: [bund]
    brand:
      color: "#004b87"
      boilerplate: Über die Initiative.
    imprint:
      organisation: Bündnis Zukunft der Industrie
      legal_form: e. V.
      address: Musterstraße 1, 70173 Stuttgart
      representative: Erika Mustermann
      email: presse@example.org
      phone: +49 711 000000
      responsible: Erika Mustermann
      privacy_url: https://example.org/datenschutz
    press_contact:
      name: Max Muster
      function: Pressesprecher
      organisation: Bündnis Zukunft der Industrie
      address: Musterstraße 1, 70173 Stuttgart
      phone: +49 711 000001
      email: max@example.org
    sender:
      name: Industriedialog
      email: news@example.org
"""

INITIATIVES = "initiatives:\n" + INITIATIVE.format(slug="bw") + INITIATIVE.format(slug="th")

FEEDS = """\
feeds:
  - id: bund
    url: feeds/bund.xml
    tags: [bund]
  - id: web
    url: https://example.org/feed.xml
"""

# Line numbers matter in these tests: line 10 is the trigger's first key.
CAMPAIGN = """\
title: Wochenrückblick
period: {start: 2025-01-01, end: 2025-12-31}
targets: [bw, th]
milestones:
  launch: 2025-03-01T10:00:00
deliverables:
  - id: weekly
    kind: newsletter
    trigger:
      schedule: "0 9 * * 1"
    subject: Die Woche
    preheader: Neues aus den Regionen
    signature: {name: Erika Mustermann, function: Sprecherin}
  - id: news
    kind: social
    trigger:
      on: item.published
      filter: {feeds: [bund], initiatives: [bw]}
  - id: launch
    kind: press_release
    trigger: {at: {milestone: launch, offset: -1d}}
    embargo: {milestone: launch}
    headline: Industriedialog startet
    lead: Heute beginnt der Dialog.
    body: [Erster Absatz.]
    quotes:
      - {text: Gut so., name: Erika Mustermann, function: Sprecherin, initiatives: [th]}
"""


def make_workspace(
    root: Path,
    *,
    config: str | None = CONFIG,
    initiatives: str | None = INITIATIVES,
    feeds: str | None = FEEDS,
    campaigns: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write a small valid workspace; pass ``None`` to leave a file out, text to replace it."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("depesche.toml", config),
        ("initiatives.yaml", initiatives),
        ("feeds.yaml", feeds),
    ):
        if text is not None:
            (root / name).write_text(text, encoding="utf-8")
    everything = {"feeds/bund.xml": "<rss version='2.0'><channel/></rss>\n", **(files or {})}
    for name, text in {
        **{f"campaigns/{stem}.yaml": body for stem, body in (campaigns or {}).items()},
        **everything,
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def campaign_with(old: str, new: str) -> str:
    assert old in CAMPAIGN, old
    return CAMPAIGN.replace(old, new, 1)


def lines(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


@pytest.fixture(autouse=True)
def no_builtin_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the built-in templates at an empty folder, so tests do not depend on content/."""
    folder = tmp_path / "builtin-templates"
    folder.mkdir()
    monkeypatch.setattr(workspace_module, "BUILTIN_TEMPLATES", folder)
    return folder


def only_problem(root: Path) -> str:
    problems = lines(validate_workspace(root))
    assert len(problems) == 1, problems
    return problems[0]


# --- a valid workspace --------------------------------------------------------------------------


def test_minimal_workspace_loads(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", campaigns={"zeta": CAMPAIGN, "alpha": CAMPAIGN})

    assert validate_workspace(root) == []
    ws = load_workspace(root)

    assert ws.root == root
    assert ws.config.workspace.name == "Testnetz"
    assert list(ws.initiatives) == ["bw", "th"]
    assert list(ws.feeds) == ["bund", "web"]
    assert list(ws.campaigns) == ["alpha", "zeta"]
    deliverables = ws.campaigns["alpha"].deliverables
    assert isinstance(deliverables[0], NewsletterDeliverable)
    # YAML 1.1 would read the key `on` as the boolean True; the loader keeps it a key.
    assert isinstance(deliverables[1], SocialDeliverable)
    assert deliverables[1].trigger.on == "item.published"
    assert len(ws.revision) == 64


def test_revision_changes_with_any_workspace_file(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", campaigns={"x": CAMPAIGN})
    first = load_workspace(root).revision
    assert load_workspace(root).revision == first

    (root / "campaigns" / "x.yaml").write_text(
        campaign_with("title: Wochenrückblick", "title: Monatsrückblick"), encoding="utf-8"
    )
    second = load_workspace(root).revision
    assert second != first

    (root / "templates").mkdir()
    (root / "templates" / "newsletter.html").write_text("{{ x }}", encoding="utf-8")
    assert load_workspace(root).revision != second


def test_load_raises_with_every_problem_as_lines(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", campaigns={"x": campaign_with("schedule:", "shedule:")})
    with pytest.raises(WorkspaceInvalid) as raised:
        load_workspace(root)
    assert raised.value.problems == validate_workspace(root)
    assert str(raised.value) == "\n".join(lines(raised.value.problems))


# --- schema errors with lines -------------------------------------------------------------------


def test_misspelt_key_names_the_line_and_the_meant_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_workspace(tmp_path / "ws", campaigns={"x": campaign_with("schedule:", "shedule:")})
    monkeypatch.chdir(tmp_path)

    assert only_problem(Path("ws")) == (
        "ws/campaigns/x.yaml:10: deliverables.0.trigger.shedule: "
        "unknown key 'shedule' (did you mean 'schedule'?)"
    )


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    text = campaign_with("    subject: Die Woche\n", "    subject: Die Woche\n    wetter: 1\n")
    problem = only_problem(make_workspace(tmp_path, campaigns={"x": text}))
    assert problem.startswith(
        f"{tmp_path}/campaigns/x.yaml:12: deliverables.0.wetter: unknown key 'wetter' (allowed: "
    )
    assert "subject" in problem and "preheader" in problem


def test_unknown_key_in_a_union_member_suggests_that_members_fields(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("offset: -1d", "ofset: -1d")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:21: deliverables.2.trigger.at.ofset: "
        "unknown key 'ofset' (did you mean 'offset'?)"
    )


def test_wrong_type_points_at_the_value(tmp_path: Path) -> None:
    text = campaign_with(
        "    subject: Die Woche\n", "    subject: Die Woche\n    select:\n      max_items: viele\n"
    )
    root = make_workspace(tmp_path, campaigns={"x": text})
    assert only_problem(root).startswith(
        f"{root}/campaigns/x.yaml:13: deliverables.0.select.max_items: Input should be a valid "
        "integer"
    )


def test_missing_key_points_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    text = campaign_with(
        "    signature: {name: Erika Mustermann, function: Sprecherin}",
        "    signature: {name: Erika Mustermann}",
    )
    root = make_workspace(tmp_path, campaigns={"x": text})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:13: deliverables.0.signature.function: "
        "missing required key 'function'"
    )


def test_missing_top_level_key(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("title: Wochenrückblick\n", "")})
    assert only_problem(root) == f"{root}/campaigns/x.yaml:1: title: missing required key 'title'"


def test_unknown_deliverable_kind(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("kind: social", "kind: sozial")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:15: deliverables.1.kind: "
        "unknown kind 'sozial' (did you mean 'social'?)"
    )


def test_union_reports_only_the_member_that_was_meant(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("[bw, th]", "[bw, Thüringen]")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:3: targets.1: 'Thüringen' is not a slug "
        "(lowercase letters, digits and '-', starting with a letter or digit, "
        "at most 60 characters)"
    )


def test_a_slug_longer_than_its_columns_is_refused(tmp_path: Path) -> None:
    """Keys joined from several slugs must fit String(200) columns on PostgreSQL."""
    long = "a" * 61
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("[bw, th]", f"[bw, {long}]")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:3: targets.1: {long!r} is not a slug "
        "(lowercase letters, digits and '-', starting with a letter or digit, "
        "at most 60 characters)"
    )


def test_union_with_no_fitting_member_is_one_problem(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("[bw, th]", "alle")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:3: targets: expected 'all' or a valid list or a mapping "
        "(got 'alle')"
    )


def test_model_validator_message(tmp_path: Path) -> None:
    text = campaign_with("end: 2025-12-31", "end: 2024-12-31")
    root = make_workspace(tmp_path, campaigns={"x": text})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:2: period: period.end lies before period.start"
    )


def test_unknown_timezone_suggests_a_close_one(tmp_path: Path) -> None:
    text = campaign_with("title: Wochenrückblick\n", "title: W\ntimezone: Europe/Berln\n")
    assert only_problem(make_workspace(tmp_path, campaigns={"x": text})) == (
        f"{tmp_path}/campaigns/x.yaml:2: timezone: unknown timezone 'Europe/Berln' "
        "(did you mean 'Europe/Berlin'?)"
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = campaign_with("    subject: Die Woche\n", "    subject: Die Woche\n    subject: Zwei\n")
    root = make_workspace(tmp_path, campaigns={"x": text})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:12: deliverables.0.subject: "
        "duplicate key 'subject' (first at line 11; the last one wins)"
    )


def test_yaml_syntax_error_gives_its_line(tmp_path: Path) -> None:
    text = campaign_with("    subject: Die Woche\n", "    subject: Die Woche\n   preheader: [x\n")
    root = make_workspace(tmp_path, campaigns={"x": text})
    problem = validate_workspace(root)
    assert len(problem) == 1
    assert problem[0].path == f"{root}/campaigns/x.yaml"
    assert problem[0].line == 12
    assert problem[0].field == "-"
    assert problem[0].message.startswith("YAML syntax error: ")


def test_empty_file(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": ""})
    assert only_problem(root) == f"{root}/campaigns/x.yaml:1: -: file is empty"


def test_toml_syntax_error_gives_its_line(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, config=CONFIG + "\n[fetch]\ntimeout = \n")
    problem = only_problem(root)
    assert problem.startswith(f"{root}/depesche.toml:6: -: TOML syntax error: ")
    assert "(at line" not in problem


def test_toml_schema_errors_find_section_and_key_lines(tmp_path: Path) -> None:
    config = '[workspace]\nnmae = "Testnetz"\n\n[fetch]\ntimeout = "lang"\n'
    root = make_workspace(tmp_path, config=config)
    assert lines(validate_workspace(root)) == [
        f"{root}/depesche.toml:1: workspace.name: missing required key 'name'",
        f"{root}/depesche.toml:2: workspace.nmae: unknown key 'nmae' (did you mean 'name'?)",
        f"{root}/depesche.toml:5: fetch.timeout: Input should be a valid number, "
        "unable to parse string as a number (got 'lang')",
    ]


# --- cross-file checks --------------------------------------------------------------------------


def test_missing_required_files(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, config=None, initiatives=None, feeds=None)
    problems = validate_workspace(root)
    assert [(p.path, p.line, p.field) for p in problems] == [
        (f"{root}/depesche.toml", 1, "-"),
        (f"{root}/initiatives.yaml", 1, "-"),
        (f"{root}/feeds.yaml", 1, "-"),
    ]
    assert all(p.message.startswith("missing required file") for p in problems)


def test_duplicate_initiative_slug(tmp_path: Path) -> None:
    initiatives = "initiatives:\n" + INITIATIVE.format(slug="bw") * 2
    root = make_workspace(tmp_path, initiatives=initiatives)
    second = 2 + INITIATIVE.count("\n")
    assert only_problem(root) == (
        f"{root}/initiatives.yaml:{second}: initiatives.1.slug: duplicate slug 'bw' "
        "(first at line 2)"
    )


def test_duplicate_feed_id(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, feeds=FEEDS.replace("id: web", "id: bund"))
    assert only_problem(root) == (
        f"{root}/feeds.yaml:5: feeds.1.id: duplicate feed id 'bund' (first at line 2)"
    )


def test_duplicate_deliverable_id(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("id: news", "id: weekly")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:14: deliverables.1.id: duplicate deliverable id 'weekly' "
        "(first at line 7)"
    )


def test_initiative_naming_an_unknown_feed(tmp_path: Path) -> None:
    initiatives = INITIATIVES.replace("feeds: [bund]", "feeds: [bund, bundd]", 1)
    root = make_workspace(tmp_path, initiatives=initiatives)
    assert only_problem(root) == (
        f"{root}/initiatives.yaml:8: initiatives.0.feeds.1: unknown feed 'bundd' "
        "(did you mean 'bund'?)"
    )


def test_campaign_targeting_an_unknown_initiative(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("[bw, th]", "[bw, thh, nrw]")})
    assert lines(validate_workspace(root)) == [
        f"{root}/campaigns/x.yaml:3: targets.1: unknown initiative 'thh' (did you mean 'th'?)",
        f"{root}/campaigns/x.yaml:3: targets.2: unknown initiative 'nrw' (one of: bw, th)",
    ]


def test_selector_tag_no_initiative_has(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("[bw, th]", "{tags: [lant]}")})
    assert only_problem(root) == (
        f"{root}/campaigns/x.yaml:3: targets.tags.0: no initiative has the tag 'lant' "
        "(did you mean 'land'?)"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "trigger: {at: {milestone: launch,",
            "trigger: {at: {milestone: lanch,",
            "21: deliverables.2.trigger.at.milestone: unknown milestone 'lanch' "
            "(did you mean 'launch'?)",
        ),
        (
            "embargo: {milestone: launch}",
            "embargo: {milestone: start}",
            "22: deliverables.2.embargo.milestone: unknown milestone 'start' (one of: launch)",
        ),
        (
            "function: Sprecherin, initiatives: [th]}",
            "function: Sprecherin, initiatives: [thx]}",
            "27: deliverables.2.quotes.0.initiatives.0: unknown initiative 'thx' "
            "(did you mean 'th'?)",
        ),
        (
            "filter: {feeds: [bund], initiatives: [bw]}",
            "filter: {feeds: [bund], initiatives: [bwx]}",
            "18: deliverables.1.trigger.filter.initiatives.0: unknown initiative 'bwx' "
            "(did you mean 'bw'?)",
        ),
        (
            "filter: {feeds: [bund], initiatives: [bw]}",
            "filter: {feeds: [bundes], initiatives: [bw]}",
            "18: deliverables.1.trigger.filter.feeds.0: unknown feed 'bundes' "
            "(did you mean 'bund'?)",
        ),
    ],
    ids=[
        "at-milestone",
        "embargo-milestone",
        "quote-initiative",
        "filter-initiative",
        "filter-feed",
    ],
)
def test_campaign_references(tmp_path: Path, old: str, new: str, expected: str) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with(old, new)})
    assert only_problem(root) == f"{root}/campaigns/x.yaml:{expected}"


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ("0 9 * * 1", True),
        ("30 7 * * MON-FRI", True),
        ("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", True),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20251231T000000Z", True),
        ("0 9 * *", False),
        ("0 0 9 * * 1", False),
        ("61 9 * * 1", False),
        ("jeden Montag", False),
        ("RRULE:FREQ=WEEKLY;BYDAY=XX", False),
    ],
)
def test_schedule_must_be_cron_or_rrule(tmp_path: Path, schedule: str, valid: bool) -> None:
    root = make_workspace(tmp_path, campaigns={"x": campaign_with("0 9 * * 1", schedule)})
    problems = validate_workspace(root)
    if valid:
        assert problems == []
    else:
        assert [(p.line, p.field) for p in problems] == [(10, "deliverables.0.trigger.schedule")]


def test_template_must_exist_in_workspace_or_builtins(
    tmp_path: Path, no_builtin_templates: Path
) -> None:
    text = campaign_with(
        "    subject: Die Woche\n", "    subject: Die Woche\n    template: wk.html\n"
    )
    root = make_workspace(tmp_path / "ws", campaigns={"x": text})
    assert only_problem(root).startswith(
        f"{root}/campaigns/x.yaml:12: deliverables.0.template: template 'wk.html' not found"
    )

    (no_builtin_templates / "wk.html").write_text("built-in", encoding="utf-8")
    assert validate_workspace(root) == []

    (no_builtin_templates / "wk.html").unlink()
    make_workspace(root, files={"templates/wk.html": "own"})
    assert validate_workspace(root) == []


def test_template_outside_templates_folder(tmp_path: Path) -> None:
    text = campaign_with(
        "    subject: Die Woche\n", "    subject: Die Woche\n    template: ../depesche.toml\n"
    )
    root = make_workspace(tmp_path, campaigns={"x": text})
    assert "must be a file name inside templates/" in only_problem(root)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("feeds/fehlt.xml", "feed file not found: {root}/feeds/fehlt.xml"),
        ("file:///nirgends/feed.xml", "feed file not found: /nirgends/feed.xml"),
        ("htps://example.org/feed", "unsupported URL scheme 'htps' (did you mean 'https'?"),
        ("ftp://example.org/feed", "unsupported URL scheme 'ftp'"),
        ("https:///feed", "has no host"),
    ],
)
def test_feed_urls(tmp_path: Path, url: str, message: str) -> None:
    root = make_workspace(tmp_path, feeds=FEEDS.replace("https://example.org/feed.xml", url))
    problem = only_problem(root)
    assert problem.startswith(f"{root}/feeds.yaml:6: feeds.1.url: ")
    assert message.format(root=root) in problem


def test_existing_file_url_is_fine(tmp_path: Path) -> None:
    root = make_workspace(tmp_path)
    url = (root / "feeds" / "bund.xml").as_uri()
    (root / "feeds.yaml").write_text(FEEDS.replace("feeds/bund.xml", url), encoding="utf-8")
    assert validate_workspace(root) == []


def test_problems_of_several_files_are_reported_together(tmp_path: Path) -> None:
    root = make_workspace(
        tmp_path,
        feeds=FEEDS.replace("id: web", "id: Web Feed"),
        campaigns={
            "a": campaign_with("schedule:", "shedule:"),
            "b": campaign_with("kind: social", "kind: sozial").replace("[bw, th]", "[bw, xy]"),
            "c": CAMPAIGN,
        },
        files={"campaigns/d.yaml": "title: [\n"},
    )
    problems = validate_workspace(root)
    assert [(p.path.removeprefix(f"{root}/"), p.line, p.field) for p in problems] == [
        ("feeds.yaml", 5, "feeds.1.id"),
        ("campaigns/a.yaml", 10, "deliverables.0.trigger.shedule"),
        ("campaigns/b.yaml", 3, "targets.1"),
        ("campaigns/b.yaml", 15, "deliverables.1.kind"),
        ("campaigns/d.yaml", 2, "-"),
    ]


def test_campaign_file_names(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, campaigns={"Mein Plan": CAMPAIGN})
    make_workspace(root, files={"campaigns/alt.yml": CAMPAIGN})
    assert [(p.path.removeprefix(f"{root}/"), p.line) for p in validate_workspace(root)] == [
        ("campaigns/Mein Plan.yaml", 1),
        ("campaigns/alt.yml", 1),
    ]


def test_missing_workspace_folder(tmp_path: Path) -> None:
    assert lines(validate_workspace(tmp_path / "nope")) == [
        f"{tmp_path}/nope:1: -: workspace folder not found"
    ]


# --- the shipped example ------------------------------------------------------------------------


@pytest.mark.skipif(
    not (EXAMPLE / "depesche.toml").is_file(), reason="example workspace not written yet"
)
def test_example_workspace_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace_module, "BUILTIN_TEMPLATES", REPO / "content" / "templates")
    assert lines(validate_workspace(EXAMPLE)) == []
