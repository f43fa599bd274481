"""Record keys for Bluesky posts: atproto TIDs derived from a delivery, not from the clock.

A TID (https://atproto.com/specs/tid) is a 64-bit integer (top bit 0, then 53 bits of
microseconds since the Unix epoch, then a 10-bit clock id) written as 13 characters of
base32-sortable (``234567abcdefghijklmnopqrstuvwxyz``). ``app.bsky.feed.post`` records must use
a TID as their key. Deriving it from the piece's time and a hash of the delivery key makes it
the same on every attempt, so a repeated ``createRecord`` meets the record the first attempt
made instead of posting twice. The second comes from the piece's time (so keys sort the way
pieces were made); the microseconds within it and the clock id come from independent bits of
the hash, which keeps deliveries of the same instant apart (about one pair in a billion shares
a key).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Final

ALPHABET: Final = "234567abcdefghijklmnopqrstuvwxyz"
# From the spec: the first character carries the top bit, which is always 0.
TID_PATTERN: Final = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_LENGTH: Final = 13
_MAX_MICROSECONDS: Final = 2**53 - 1


def encode(value: int) -> str:
    """``value`` (0 <= value < 2**63) as 13 base32-sortable characters."""
    if not 0 <= value < 2**63:
        raise ValueError(f"a TID is a 63-bit value, got {value}")
    characters = []
    for _ in range(_LENGTH):
        characters.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(characters))


def make(microseconds: int, clock_id: int) -> str:
    """The TID for a timestamp (microseconds since the epoch) and a clock id (0-1023)."""
    if not 0 <= microseconds <= _MAX_MICROSECONDS:
        raise ValueError(f"TID timestamp out of range: {microseconds}")
    if not 0 <= clock_id < 1024:
        raise ValueError(f"TID clock id out of range: {clock_id}")
    return encode((microseconds << 10) | clock_id)


def tid_for(moment: datetime, key: str) -> str:
    """A valid TID within ``moment``'s second, fixed by ``key`` (a delivery key)."""
    if moment.tzinfo is None:
        raise ValueError("the moment of a TID must be timezone-aware")
    seconds = int(moment.timestamp())
    digest = hashlib.sha256(key.encode()).digest()
    within = int.from_bytes(digest[:4], "big") % 1_000_000
    clock_id = int.from_bytes(digest[4:6], "big") % 1024
    return make(seconds * 1_000_000 + within, clock_id)


def is_tid(value: str) -> bool:
    return TID_PATTERN.match(value) is not None
