"""Social-network post text: counting it the way each platform does, and making it fit.

Platforms disagree on what a "character" is (weighted code points on X, grapheme
clusters on Bluesky, code points with link and mention discounts on Mastodon), so a
post that fits one can be rejected by another; everything here is per platform.
"""

from content.social.counting import (
    LIMITS,
    bluesky_length,
    length,
    linkedin_length,
    mastodon_length,
    x_is_valid,
    x_length,
)
from content.social.fitting import fit

__all__ = [
    "LIMITS",
    "bluesky_length",
    "fit",
    "length",
    "linkedin_length",
    "mastodon_length",
    "x_is_valid",
    "x_length",
]
