"""Composers turn one slot's input into pieces for one initiative, one module per piece kind."""

from __future__ import annotations

from campaigns.schema import (
    NewsletterDeliverable,
    PressReleaseDeliverable,
    SocialDeliverable,
)
from content.composers.base import ComposedPiece, CompositionInput
from content.composers.newsletter import compose_newsletter
from content.composers.press_release import compose_press_release
from content.composers.social import compose_social


def compose(inp: CompositionInput) -> list[ComposedPiece]:
    """Dispatch on the deliverable's kind; an empty list means nothing to send this time."""
    spec = next(d for d in inp.campaign.deliverables if d.id == inp.deliverable_id)
    if isinstance(spec, NewsletterDeliverable):
        return compose_newsletter(inp, spec)
    if isinstance(spec, SocialDeliverable):
        return compose_social(inp, spec)
    if isinstance(spec, PressReleaseDeliverable):
        return compose_press_release(inp, spec)
    raise TypeError(f"unknown deliverable kind for {inp.deliverable_id}")
