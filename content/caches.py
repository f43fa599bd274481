"""The per-process caches that hold one slot's data, in one place.

Composing keeps a few things between the initiatives of a slot: the scored item pool, teasers,
parsed links, each Termin's calendar lines, folded mail headers. A worker meets a new slot with
new items, so a benchmark that composes the same slot again must forget them first, or it would
measure cache hits instead of work. Compiled templates and environments stay: a worker keeps
those across slots too.
"""

from __future__ import annotations

from content import calendar_ics, email_message, links, selection
from content.composers import base


def forget_slot_data() -> None:
    """Start the next composition as a worker starts a new slot: with none of its data cached."""
    selection.forget_pool()
    base.teaser.cache_clear()
    links.forget_links()
    calendar_ics.forget_calendars()
    email_message.forget_headers()
