"""The send-as-is checklist of EDITORIAL.md §5, applied to every file the demo produced."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import regex

from content.social.counting import LIMITS, length

MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
WEEKDAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
LONG_DATE = re.compile(rf"({'|'.join(WEEKDAYS)}), (\d{{1,2}})\. ({'|'.join(MONTHS)}) (\d{{4}})")
DRAMA_PREFIXES = ("030 23125", "069 90009", "040 66969", "0221 4710", "089 99998")
PHONE = re.compile(r"\b0\d{2,4} \d{4,5}-\d{1,4}\b")
HOST = re.compile(r"https?://([^/\s\"'<>?#]+)")
ORTSMARKE = re.compile(rf"^[A-ZÄÖÜ][^,]+, \d{{1,2}}\. ({'|'.join(MONTHS)}) \d{{4}} – ", re.M)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(path: Path) -> str:
    raw = path.read_text()
    if path.suffix != ".html":
        return raw
    parser = _Text()
    parser.feed(raw)
    return "\n".join(parser.parts)


def general_problems(text: str) -> list[str]:
    problems = []
    checks = {
        '"': r'"',
        "hyphen as dash": r" - ",
        "percent without space": r"\d%",
        "English number format": r"\d,\d{3}\.\d",
        "am/pm": r"\b\d{1,2}(:\d\d)?\s?(am|pm)\b",
        "TMG": r"\bTMG\b",
        "gender star or colon": r"\*innen|:innen",
        "placeholder text": r"Lorem|TODO|\{\{",
    }
    for name, pattern in checks.items():
        if re.search(pattern, text):
            problems.append(name)
    for weekday, day, month, year in LONG_DATE.findall(text):
        actual = date(int(year), MONTHS.index(month) + 1, int(day)).weekday()
        if WEEKDAYS[actual] != weekday:
            problems.append(f"{weekday}, {day}. {month} {year} is a {WEEKDAYS[actual]}")
    for host in HOST.findall(text):
        if not re.search(r"(^|\.)example\.(org|com|net)$", host):
            problems.append(f"non-example host {host}")
    for phone in PHONE.findall(text):
        if not phone.startswith(DRAMA_PREFIXES):
            problems.append(f"phone {phone} outside the drama ranges")
    return problems


def output_files(demo_run, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in demo_run.out.rglob("*") if p.suffix in suffixes)


def test_every_text_meets_the_general_rules(demo_run) -> None:
    files = output_files(demo_run, (".txt", ".md", ".html"))
    assert files
    problems = {str(p.relative_to(demo_run.out)): general_problems(visible_text(p)) for p in files}
    assert {k: v for k, v in problems.items() if v} == {}


def newsletters(demo_run) -> list[Path]:
    return sorted(demo_run.out.rglob("newsletter.eml"))


def test_newsletters_have_subject_preheader_legal_footer_and_unsubscribe(demo_run) -> None:
    assert newsletters(demo_run)
    for path in newsletters(demo_run):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        subject, preheader = str(message["Subject"]), str(message["X-Preheader"])
        assert len(subject) <= 50, (path, subject)
        assert 40 <= len(preheader) <= 100 and preheader != subject, (path, preheader)
        assert message["List-Unsubscribe"] and message["List-Unsubscribe-Post"] == (
            "List-Unsubscribe=One-Click"
        )
        assert message.get_content_type() == "multipart/alternative"
        for part_name in ("newsletter.txt", "newsletter.html"):
            text = visible_text(path.parent / part_name)
            for required in (
                "Impressum",
                "Verantwortlich",
                "Datenschutz",
                "Newsletter abbestellen",
            ):
                assert required in text, (path.parent / part_name, required)
        plain = (path.parent / "newsletter.txt").read_text()
        sources = re.findall(r"^Quelle: .+, (\d\d\.\d\d\.\d{4})$", plain, re.M)
        links = re.findall(r"^Weiterlesen: (https://\S+)$", plain, re.M)
        assert sources and len(sources) == len(links)


def test_termine_lie_ahead_of_the_issue_and_are_sorted(demo_run) -> None:
    for path in sorted(demo_run.out.rglob("newsletter.txt")):
        text = path.read_text()
        issued = LONG_DATE.search(text)
        assert issued
        if "\nTERMINE\n" not in text:
            continue
        section = text.split("\nTERMINE\n", 1)[1].split("Mit freundlichen Grüßen", 1)[0]
        dates = [
            date(int(y), MONTHS.index(m) + 1, int(d)) for _, d, m, y in LONG_DATE.findall(section)
        ]
        issue_day = date(int(issued[4]), MONTHS.index(issued[3]) + 1, int(issued[2]))
        assert dates == sorted(dates) and all(d >= issue_day for d in dates), path


def test_press_releases_follow_german_conventions(demo_run) -> None:
    releases = sorted(demo_run.out.rglob("press_release.md"))
    assert releases
    for path in releases:
        text = path.read_text()
        assert "**Pressemitteilung**" in text
        headline = re.search(r"^# (.+)$", text, re.M)
        assert headline and len(headline[1]) <= 80 and "!" not in headline[1]
        assert ORTSMARKE.search(text), path
        quotes = re.findall(r"^„[^“]+“, sagt [^,]+, .+\.$", text, re.M)
        assert 1 <= len(quotes) <= 2, path
        count = re.search(r"Zeichen \(inkl\. Leerzeichen\): ([\d.]+)", text)
        assert count and 1500 <= int(count[1].replace(".", "")) <= 4000, path
        assert "### Über die " in text and "### Pressekontakt" in text
        sperrfrist = re.search(r"Sperrfrist: (.+?)\*\*", text)
        if sperrfrist:
            assert LONG_DATE.search(sperrfrist[1]) and re.search(r"\d\d:\d\d\s?Uhr", sperrfrist[1])


EMOJI = regex.compile(r"\p{Extended_Pictographic}")


@pytest.mark.parametrize("platform", sorted(LIMITS))
def test_social_posts_fit_and_end_with_camelcase_hashtags(demo_run, platform: str) -> None:
    posts = sorted(demo_run.out.rglob(f"social-{platform}.txt"))
    assert posts
    for path in posts:
        text = path.read_text()
        assert length(platform, text) <= LIMITS[platform], path
        assert len(re.findall(r"https?://", text)) == 1, path
        assert len(EMOJI.findall(text)) <= 2
        last_line = text.rstrip().splitlines()[-1]
        tags = last_line.split()
        assert tags and all(re.fullmatch(r"#[A-ZÄÖÜ][\wÄÖÜäöüß]*", t) for t in tags), path
        manifest = json.loads((path.parent / "manifest.json").read_text())
        assert platform in {p.get("platform") for p in manifest["pieces"]}
