"""Termine as .ics: the per-slot shortcut writes what the icalendar library writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from content.calendar_ics import Termin, calendar_of, ics

STAMP = datetime(2026, 11, 16, 7, tzinfo=UTC)
TERMINE = [
    Termin(
        "Werkstattgespräch: Fachkräfte, Qualifizierung; Tarifbindung",
        datetime(2026, 12, 1, 9, tzinfo=UTC),
        datetime(2026, 12, 1, 11, 30, tzinfo=UTC),
        "Koblenz, Handwerkskammer",
        "https://termine.example.org/werkstatt?id=1&ort=koblenz",
    ),
    Termin("Industriedialog", datetime(2026, 12, 2, 9, tzinfo=UTC), None, "Jena", None),
]
ORGANISERS = [
    "Industrieinitiative Krefeld",
    "Allianz Industrie Thüringen e.V., Jena; Weimar \\ Erfurt",
    "Bündnis „Zukunft der Industrie“ – Mittelrhein mit einem sehr langen Namen, der gefaltet wird",
    "Zeilenende am Schluss\r",
]


@pytest.mark.parametrize("termin", TERMINE, ids=["url", "no-url"])
@pytest.mark.parametrize("organiser", ORGANISERS)
def test_ics_equals_the_library_calendar(termin: Termin, organiser: str) -> None:
    for domain in ("krefeld.example.org", "a-very-long-subdomain.initiative.example.org"):
        library = calendar_of(
            termin, campaign="woche", organiser=organiser, domain=domain, stamp=STAMP
        )
        made = ics(termin, campaign="woche", organiser=organiser, domain=domain, stamp=STAMP)
        assert made == bytes(library.to_ical())


def test_ics_parses_back_with_organiser_and_uid_of_the_initiative() -> None:
    raw = ics(
        TERMINE[0], campaign="woche", organiser=ORGANISERS[1], domain="x.example.org", stamp=STAMP
    )
    event = Calendar.from_ical(raw).walk("VEVENT")[0]
    assert str(event["DESCRIPTION"]).startswith(ORGANISERS[1] + "\n")
    assert str(event["UID"]).endswith("@x.example.org")
    assert str(event["SUMMARY"]) == TERMINE[0].title
