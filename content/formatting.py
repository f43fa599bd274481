"""Dates, times and numbers as the initiative's locale writes them (Babel), for templates.

German press style wants „Montag, 23. November 2026“, „08:00 Uhr“, „1.234,5“ with non-breaking
spaces inside units; the locale is per initiative, so nothing here hard-codes German except the
one table of time suffixes Babel does not provide.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent

NBSP = "\u00a0"
EN_DASH = "\u2013"
# Babel's patterns have no clock suffix; German press style writes „08:00 Uhr“.
_TIME_SUFFIX = {"de": f"{NBSP}Uhr"}


class Formatter:
    """Formatting bound to one locale and timezone: what a template calls ``fmt``."""

    def __init__(self, locale: str, timezone: str) -> None:
        self.locale = locale
        self.zone = ZoneInfo(timezone)
        self._suffix = _TIME_SUFFIX.get(locale.split("_")[0], "")

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone) if value.tzinfo else value.replace(tzinfo=self.zone)

    def _day(self, value: date | datetime) -> date:
        return self.local(value).date() if isinstance(value, datetime) else value

    def date_long(self, value: date | datetime) -> str:
        """„Montag, 23. November 2026“: the weekday is computed, never written by hand."""
        return format_date(self._day(value), "EEEE, d. MMMM y", locale=self.locale)

    def date_text(self, value: date | datetime) -> str:
        """„23. November 2026“, as in an Ortsmarke."""
        return format_date(self._day(value), "d. MMMM y", locale=self.locale)

    def date_short(self, value: date | datetime) -> str:
        """„23.11.2026“, for tables and source lines."""
        return format_date(self._day(value), "dd.MM.y", locale=self.locale)

    def time(self, value: datetime) -> str:
        return format_time(self.local(value), "HH:mm", locale=self.locale) + self._suffix

    def time_range(self, start: datetime, end: datetime | None) -> str:
        """„10:00–12:30 Uhr“: en dash, no spaces, one suffix."""
        if end is None:
            return self.time(start)
        first = format_time(self.local(start), "HH:mm", locale=self.locale)
        return f"{first}{EN_DASH}{self.time(end)}"

    def datetime_long(self, value: datetime) -> str:
        return f"{self.date_long(value)}, {self.time(value)}"

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, value: float) -> str:
        return format_percent(value, locale=self.locale).replace(" ", NBSP)

    def week(self, value: datetime) -> int:
        return self.local(value).isocalendar().week
