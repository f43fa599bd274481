"""Who receives a piece by mail: the contract between delivery and the subscriber lists.

Delivery (``workers/delivery.py``) asks this module for the people a piece goes to; the lists,
consent and suppression behind the answer live in ``workers/subscribers.py``. Only confirmed,
not unsubscribed, not suppressed addresses are ever returned.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str | None
    # The stable id the delivery key is built from (never the address, which GDPR erasure
    # removes): ``subscriber:<id>`` or ``journalist:<id>``.
    ref: str
    audience: str | None = None
    # The signed one-click URL for List-Unsubscribe (RFC 8058); None for press contacts.
    unsubscribe_url: str | None = None
