"""The send-as-is checklist of EDITORIAL.md §5, applied to every file the demo produced."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import regex

from content.social.counting import LIMITS, length
from content.social.extract import extract_hashtags

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


def newsletter_pieces(demo_run) -> list[tuple[Path, dict]]:
    """Every newsletter piece the demo wrote: (slot folder, manifest entry)."""
    found = []
    for manifest_path in sorted(demo_run.out.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for piece in manifest["pieces"]:
            if piece["kind"] == "newsletter":
                found.append((manifest_path.parent, piece))
    return found


def piece_file(folder: Path, piece: dict, suffix: str) -> Path:
    (path,) = [
        f["path"] for f in piece["files"] if re.fullmatch(rf"newsletter[\w-]*{suffix}", f["path"])
    ]
    return folder / path


def newsletter_problems(folder: Path, piece: dict) -> list[str]:
    """EDITORIAL.md §5 „Newsletter“ for one piece: its .eml, its text part and its HTML part."""
    problems: list[str] = []
    eml, txt, html = (piece_file(folder, piece, s) for s in (r"\.eml", r"\.txt", r"\.html"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    subject, preheader = str(message["Subject"]), str(message["X-Preheader"])
    if len(subject) > 50:
        problems.append(f"subject longer than 50: {subject}")
    if not (40 <= len(preheader) <= 100) or preheader == subject:
        problems.append(f"preheader: {preheader}")
    if not message["List-Unsubscribe"] or (
        message["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click"
    ):
        problems.append("unsubscribe headers")
    alternative = message
    if message.get_content_type() == "multipart/mixed":
        alternative = next(iter(message.iter_parts()))
        for attachment in message.iter_attachments():
            if attachment.get_content_type() != "text/calendar":
                problems.append(f"attachment {attachment.get_filename()} is not a Termin")
    if alternative.get_content_type() != "multipart/alternative":
        problems.append(f"body is {alternative.get_content_type()}")
    for part in (txt, html):
        text = visible_text(part)
        problems += [f"{part.name}: {p}" for p in general_problems(text)]
        for required in ("Impressum", "Verantwortlich", "Datenschutz", "Newsletter abbestellen"):
            if required not in text:
                problems.append(f"{part.name}: no {required}")
    plain = txt.read_text()
    sources = re.findall(r"^Quelle: .+, (\d\d\.\d\d\.\d{4})$", plain, re.M)
    links = re.findall(r"^Weiterlesen: (https://\S+)$", plain, re.M)
    if len(sources) != len(links) or len(links) != len(piece["items"]):
        problems.append(f"{len(piece['items'])} items, {len(sources)} sources, {len(links)} links")
    if not piece["items"] and "keine neuen Meldungen" not in plain:
        problems.append("no items and no „nothing new“ notice: an empty newsletter")
    return problems


def test_every_newsletter_piece_passes_the_send_as_is_checklist(demo_run) -> None:
    pieces = newsletter_pieces(demo_run)
    problems = {
        f"{folder.relative_to(demo_run.out)} {piece.get('audience', '')}": newsletter_problems(
            folder, piece
        )
        for folder, piece in pieces
    }
    assert {k: v for k, v in problems.items() if v} == {}
    # Six regions × seven Monday digests × four audiences, plus the six kickoff issues.
    assert len(pieces) == 6 * 7 * 4 + 6
    audiences = Counter(piece.get("audience") for _, piece in pieces)
    assert audiences == {
        None: 6,
        "unternehmen": 42,
        "betriebsraete": 42,
        "kammern": 42,
        "gewerkschaften": 42,
    }


def test_termine_lie_ahead_of_the_issue_and_are_sorted(demo_run) -> None:
    checked = 0
    for folder, piece in newsletter_pieces(demo_run):
        text = piece_file(folder, piece, r"\.txt").read_text()
        issued = LONG_DATE.search(text)
        assert issued
        if "\nTERMINE\n" not in text:
            continue
        section = text.split("\nTERMINE\n", 1)[1].split("Mit freundlichen Grüßen", 1)[0]
        section = section.split("\nAUS DEM NETZWERK\n", 1)[0]
        dates = [
            date(int(y), MONTHS.index(m) + 1, int(d)) for _, d, m, y in LONG_DATE.findall(section)
        ]
        issue_day = date(int(issued[4]), MONTHS.index(issued[3]) + 1, int(issued[2]))
        assert dates == sorted(dates) and all(d >= issue_day for d in dates), folder
        ics = [f for f in piece["files"] if f["path"].endswith(".ics")]
        assert len(ics) == len(dates), folder
        checked += 1
    assert checked > 0


def test_press_releases_follow_german_conventions(demo_run) -> None:
    releases = sorted(demo_run.out.rglob("press_release.md"))
    assert releases
    images = 0
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
        # Every image: alt text, a caption, a credit („Foto: …“, § 13 UrhG), reprint terms.
        shown = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)\n(.*)\n(.*)", text)
        assert text.count("![") == len(shown), path
        for alt, name, caption, credit in shown:
            assert len(alt) >= 20 and not re.match(r"(?i)(bild|foto) von", alt), path
            assert (path.parent / name).is_file(), name
            assert re.fullmatch(r"\*[^*]{10,}\*", caption), (path, caption)
            assert re.fullmatch(
                r"(Foto|Grafik): .+ · Abdruck honorarfrei bei Nennung der Quelle", credit
            )
        images += len(shown)
    # The example names its press image in the press release: one per release.
    assert images == len(releases)


EMOJI = regex.compile(r"\p{Extended_Pictographic}")


def social_pieces(demo_run) -> list[tuple[Path, dict]]:
    """Every social piece of the demo with its slot folder, from the manifests."""
    found = []
    for manifest_path in sorted(demo_run.out.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        found += [(manifest_path.parent, p) for p in manifest["pieces"] if p["kind"] == "social"]
    return found


def social_problems(folder: Path, piece: dict) -> list[str]:
    """EDITORIAL §5 for a post or thread: limit, hashtags at the end, emoji, one link, alt text."""
    platform = piece["platform"]
    names = [f["path"] for f in piece["files"]]
    posts = [folder / n for n in names if re.fullmatch(rf"social-{platform}(-\d+)?\.txt", n)]
    problems = []
    if not posts:
        return ["no post"]
    links = 0
    for index, path in enumerate(posts):
        text = path.read_text()
        if length(platform, text) > LIMITS[platform]:
            problems.append(f"{path.name} over the limit")
        if len(EMOJI.findall(text)) > 2:
            problems.append(f"{path.name} has more than two emoji")
        links += len(re.findall(r"https?://", text))
        if index == 0:
            tags = text.rstrip().splitlines()[-1].split()
            if not tags or not all(re.fullmatch(r"#[A-ZÄÖÜ][A-Za-zÄÖÜäöüß0-9]*", t) for t in tags):
                problems.append(f"{path.name} does not end with CamelCase hashtags")
            elif [f"#{tag.value}" for tag in extract_hashtags(" ".join(tags))] != tags:
                problems.append(f"{path.name}: a hashtag is not one on {platform}")
        if platform == "bluesky":
            record = json.loads(path.with_suffix(".json").read_text())
            encoded = record["text"].encode()
            if record["text"] != text or any(
                not encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode().strip()
                for f in record["facets"]
            ):
                problems.append(f"{path.name}: facets do not match the text")
    if links != 1:
        problems.append(f"{links} links in the post or thread")
    images = [n for n in names if n.endswith((".png", ".jpg"))]
    if images:
        media = json.loads((folder / f"social-{platform}-media.json").read_text())
        described = {m["file"]: m for m in media}
        for name in images:
            alt = described.get(name, {}).get("alt", "")
            if len(alt) < 20 or re.match(r"(?i)(bild|foto) von", alt):
                problems.append(f"{name} without a proper alt text")
            if not described.get(name, {}).get("credit", "").startswith(("Foto: ", "Grafik: ")):
                problems.append(f"{name} without a credit")
    return problems


def test_every_social_piece_passes_the_send_as_is_checklist(demo_run) -> None:
    pieces = social_pieces(demo_run)
    problems = {
        f"{folder.relative_to(demo_run.out)} {piece['platform']}": social_problems(folder, piece)
        for folder, piece in pieces
    }
    assert {k: v for k, v in problems.items() if v} == {}
    platforms = Counter(piece["platform"] for _, piece in pieces)
    assert set(platforms) == set(LIMITS) and len(set(platforms.values())) == 1
    images = sum(
        1 for _, piece in pieces for f in piece["files"] if f["path"].endswith((".png", ".jpg"))
    )
    # The example attaches its one sample image to every social post.
    assert images == len(pieces) > 0
