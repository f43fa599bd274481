"""Termine as iCalendar (RFC 5545) files, so a reader adds a date with one click.

Built with the ``icalendar`` library (escaping, line folding and CRLF are its job, not ours).
The bytes are deterministic for a Termin and an issue: the UID derives from the campaign and the
Termin, DTSTAMP is the issue's instant, and times are written in UTC, so neither the clock nor the
machine's time-zone database changes a file that was already delivered.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event

PRODID = "-//Depesche//Newsletter//DE"
_UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"}
)
SLUG_WORDS = 6


@dataclass(frozen=True)
class Termin:
    """One event from the campaign file, times aware."""

    title: str
    start: datetime
    end: datetime | None
    place: str
    url: str | None


def slugify(text: str, max_words: int = SLUG_WORDS) -> str:
    """An ASCII file-name part: „Fachkräfte in der Industrie“ → ``fachkraefte-in-der-industrie``."""
    ascii_text = (
        unicodedata.normalize("NFKD", text.translate(_UMLAUTS))
        .encode("ascii", "ignore")
        .decode()
        .lower()
    )
    words = re.findall(r"[a-z0-9]+", ascii_text)
    return "-".join(words[:max_words]) or "termin"


def file_name(termin: Termin) -> str:
    """``termin-20261124-fachforum-fachkraeftesicherung-in-der-industrie.ics``."""
    return f"termin-{termin.start.astimezone(UTC):%Y%m%d}-{slugify(termin.title)}.ics"


def uid(termin: Termin, *, campaign: str, domain: str) -> str:
    digest = hashlib.sha256(f"{campaign}\n{termin.title}\n{termin.start.isoformat()}".encode())
    return f"{digest.hexdigest()[:32]}@{domain}"


def ics(termin: Termin, *, campaign: str, organiser: str, domain: str, stamp: datetime) -> bytes:
    """One VCALENDAR with one VEVENT; ``stamp`` (the issue's instant) is its DTSTAMP."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid(termin, campaign=campaign, domain=domain))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", termin.start.astimezone(UTC))
    if termin.end is not None:
        event.add("dtend", termin.end.astimezone(UTC))
    event.add("summary", termin.title)
    event.add("location", termin.place)
    description = f"{organiser}"
    if termin.url:
        event.add("url", termin.url)
        description += f"\nAnmeldung und Programm: {termin.url}"
    event.add("description", description)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
