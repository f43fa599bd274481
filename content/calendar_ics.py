"""Termine as iCalendar (RFC 5545) files, so a reader adds a date with one click.

Built with the ``icalendar`` library (escaping, line folding and CRLF are its job, not ours).
The bytes are deterministic for a Termin and an issue: the UID derives from the campaign and the
Termin, DTSTAMP is the issue's instant, and times are written in UTC, so neither the clock nor the
machine's time-zone database changes a file that was already delivered.

Every initiative of a slot attaches the same Termine; only the UID's domain and the organiser in
the description differ. So the library builds each Termin's calendar once per slot, and per
initiative only those two content lines are made (again by the library) and the lines folded.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from icalendar import Calendar, Event
from icalendar.parser import Contentline
from icalendar.prop import vText

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


@lru_cache(maxsize=256)
def file_name(termin: Termin) -> str:
    """``termin-20261124-fachforum-fachkraeftesicherung-in-der-industrie.ics``."""
    return f"termin-{termin.start.astimezone(UTC):%Y%m%d}-{slugify(termin.title)}.ics"


def uid(termin: Termin, *, campaign: str, domain: str) -> str:
    digest = hashlib.sha256(f"{campaign}\n{termin.title}\n{termin.start.isoformat()}".encode())
    return f"{digest.hexdigest()[:32]}@{domain}"


def _description(termin: Termin, organiser: str) -> str:
    if termin.url:
        return f"{organiser}\nAnmeldung und Programm: {termin.url}"
    return organiser


def calendar_of(
    termin: Termin, *, campaign: str, organiser: str, domain: str, stamp: datetime
) -> Calendar:
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
    if termin.url:
        event.add("url", termin.url)
    event.add("description", _description(termin, organiser))
    calendar.add_component(event)
    return calendar


_PER_INITIATIVE = ("UID", "DESCRIPTION")


@lru_cache(maxsize=256)
def _slot_lines(termin: Termin, campaign: str, stamp: datetime) -> tuple[str | bytes, ...]:
    """The calendar's lines: folded bytes, or the name of a line each initiative fills in."""
    calendar = calendar_of(termin, campaign=campaign, organiser="-", domain="-", stamp=stamp)
    lines: list[str | bytes] = []
    for line in calendar.content_lines():
        if not line:
            continue
        name = line.partition(":")[0]
        lines.append(name if name in _PER_INITIATIVE else line.to_ical())
    return tuple(lines)


def forget_calendars() -> None:
    """Drop the slots' calendar lines (see :mod:`content.caches`)."""
    _slot_lines.cache_clear()
    file_name.cache_clear()


def _content_line(name: str, value: str) -> bytes:
    text = vText(value)
    return bytes(Contentline.from_parts(name, text.params, text).to_ical())


def ics(termin: Termin, *, campaign: str, organiser: str, domain: str, stamp: datetime) -> bytes:
    """The bytes of :func:`calendar_of`, built from the slot's shared lines (module docstring)."""
    own = {
        "UID": _content_line("UID", uid(termin, campaign=campaign, domain=domain)),
        "DESCRIPTION": _content_line("DESCRIPTION", _description(termin, organiser)),
    }
    lines = _slot_lines(termin, campaign, stamp)
    return b"\r\n".join(own[line] if isinstance(line, str) else line for line in lines) + b"\r\n"
