"""A small workspace for event-trigger tests: the example's initiatives, one campaign, one feed.

The campaign posts to Mastodon for Krefeld whenever the generated feed ``meldungen`` publishes an
item about Wasserstoff; the feed holds as many such items as a test asks for, plus one item
that does not match the filter and one that matches but is older than the trigger's window.
The example's own feeds stay declared (initiatives name them) but are emptied, so every event a
test sees comes from the generated feed.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from tests.services import EXAMPLE

# The clock of the ingest in these tests, and the trigger's window before it.
INGEST_AT = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
CAMPAIGN = "eilmeldungen"
DELIVERABLE = "eilmeldung"
FEED = "meldungen"

CAMPAIGN_YAML = """\
title: Eilmeldungen Wasserstoff
description: Ein Mastodon-Post für Krefeld zu jeder neuen Meldung über Wasserstoff.
timezone: Europe/Berlin
period:
  start: 2026-11-01
  end: 2026-11-30
targets: [krefeld]
review: auto
deliverables:
  - id: eilmeldung
    kind: social
    trigger:
      on: item.published
      filter:
        feeds: [meldungen]
        keywords: [Wasserstoff]
      window: 24h
    platforms: [mastodon]
    intro: Neu aus dem Netzwerk
"""

FEED_ENTRY = """\
  - id: meldungen
    url: feeds/meldungen.xml
    title: Meldungen aus dem Netzwerk
    tags: [national, netzwerk]
    interval: 30m
"""

EMPTY_RSS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
    "<title>Leer</title><link>https://example.org/</link><description>Leer</description>"
    "</channel></rss>\n"
)
EMPTY_JSON_FEED = '{"version": "https://jsonfeed.org/version/1.1", "title": "Leer", "items": []}\n'

# Varied words, so that generated items read as different stories, not as near-duplicates.
PLACES = ["Krefeld", "Marl", "Jena", "Esslingen", "Koblenz", "Höchst", "Münster", "Uerdingen"]
SUBJECTS = [
    "Elektrolyseur",
    "Pipeline",
    "Tankstelle",
    "Speicher",
    "Kraftwerk",
    "Hafenterminal",
    "Forschungslabor",
    "Lehrwerkstatt",
    "Netzanschluss",
    "Pilotanlage",
]
VERBS = ["geht in Betrieb", "wird erweitert", "erhält Förderung", "startet", "wird geplant"]
WORDS = [
    "Betriebsrat",
    "Kammer",
    "Genehmigung",
    "Strompreis",
    "Qualifizierung",
    "Fachkräfte",
    "Chemie",
    "Stahl",
    "Netz",
    "Ausbildung",
    "Investition",
    "Beschäftigte",
    "Standort",
    "Anlage",
    "Leitung",
    "Kunden",
    "Zulieferer",
    "Mittelstand",
    "Tarifvertrag",
    "Wärme",
    "Kreislauf",
    "Recycling",
    "Hafen",
    "Schiene",
    "Forschung",
    "Hochschule",
    "Transformation",
]


@dataclass(frozen=True)
class EventWorkspace:
    root: Path
    matching: list[str]  # canonical links of the items the trigger takes


def _item(number: int, title: str, summary: str, published: datetime) -> str:
    link = f"https://netzwerk.example.org/meldungen/{number}"
    return (
        "<item>\n"
        f"<title>{escape(title)}</title>\n"
        f"<link>{link}</link>\n"
        f'<guid isPermaLink="false">meldung-{number}</guid>\n'
        f"<pubDate>{format_datetime(published)}</pubDate>\n"
        f"<description>{escape(summary)}</description>\n"
        "</item>\n"
    )


def _story(rng: random.Random, number: int, keyword: str) -> tuple[str, str]:
    title = (
        f"{keyword}: {rng.choice(SUBJECTS)} in {rng.choice(PLACES)} {rng.choice(VERBS)} "
        f"(Meldung {number})"
    )
    summary = " ".join(rng.sample(WORDS, 12)) + f". {keyword} bleibt Thema Nummer {number}."
    return title, summary


def build_event_workspace(root: Path, *, matching: int) -> EventWorkspace:
    """Copy the example's initiatives and feeds, replace its campaigns, add the generated feed."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("var", "out", "campaigns"))
    (root / "campaigns").mkdir()
    (root / "campaigns" / f"{CAMPAIGN}.yaml").write_text(CAMPAIGN_YAML, encoding="utf-8")
    feeds = root / "feeds.yaml"
    feeds.write_text(feeds.read_text(encoding="utf-8").rstrip("\n") + "\n" + FEED_ENTRY)
    for path in (root / "feeds").iterdir():
        path.write_text(EMPTY_JSON_FEED if path.suffix == ".json" else EMPTY_RSS, encoding="utf-8")

    rng = random.Random(4)
    items, links = [], []
    for number in range(1, matching + 1):
        published = INGEST_AT - timedelta(minutes=number)
        title, summary = _story(rng, number, "Wasserstoff")
        items.append(_item(number, title, summary, published))
        links.append(f"https://netzwerk.example.org/meldungen/{number}")
    other = matching + 1
    title, summary = _story(rng, other, "Fachkräfte")
    items.append(_item(other, title, summary, INGEST_AT - timedelta(minutes=5)))
    old = matching + 2
    title, summary = _story(rng, old, "Wasserstoff")
    items.append(_item(old, title, summary, INGEST_AT - WINDOW - timedelta(minutes=1)))
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n'
        "<title>Meldungen aus dem Netzwerk</title>\n"
        "<link>https://netzwerk.example.org/meldungen</link>\n"
        "<description>Generierte Meldungen für Tests</description>\n"
        + "".join(items)
        + "</channel>\n</rss>\n"
    )
    (root / "feeds" / "meldungen.xml").write_text(feed, encoding="utf-8")
    return EventWorkspace(root, links)
