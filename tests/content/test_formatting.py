from __future__ import annotations

from datetime import UTC, date, datetime

from content.formatting import NBSP, Formatter

FMT = Formatter("de_DE", "Europe/Berlin")


def test_german_dates_compute_the_weekday_and_show_local_time() -> None:
    instant = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert FMT.date_long(instant) == "Montag, 23. November 2026"
    assert FMT.date_long(date(2026, 12, 1)) == "Dienstag, 1. Dezember 2026"
    assert FMT.date_short(instant) == "23.11.2026"
    assert FMT.time(instant) == f"10:00{NBSP}Uhr"
    assert (
        FMT.time_range(instant, datetime(2026, 11, 23, 11, 30, tzinfo=UTC))
        == f"10:00–12:30{NBSP}Uhr"
    )


def test_summer_time_is_shown_as_local_time() -> None:
    assert FMT.time(datetime(2026, 10, 24, 22, 30, tzinfo=UTC)) == f"00:30{NBSP}Uhr"
    assert FMT.date_text(datetime(2026, 10, 24, 22, 30, tzinfo=UTC)) == "25. Oktober 2026"


def test_numbers_use_german_separators() -> None:
    assert FMT.number(1234.5) == "1.234,5"
