"""One spelling per mailbox: normalised addresses, and the hash the suppression list keeps.

email-validator checks the syntax and normalises the domain (IDNA, Unicode NFC); we also fold
the local part's case, as every mailbox provider our initiatives' readers use treats it case
insensitively, so ``Erika.Beispiel@Example.org`` cannot sign up twice.
"""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """Not an e-mail address; the message says why, in words a person can act on."""


def normalise_address(address: str) -> str:
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{address.strip()!r} is not a valid e-mail address: {exc}") from None
    return result.normalized.casefold()


def address_hash(address: str, *, normalised: bool = False) -> str:
    """What the suppression list stores: it recognises an address without being able to mail it.

    Unkeyed on purpose: the hash must stay valid when DEPESCHE_SECRET_KEY is rotated, or an
    erased address would silently become importable again. ``normalised=True`` skips the
    syntax check for addresses read from our own tables, which are stored normalised.
    """
    if normalised:
        canonical = address
    else:
        try:
            canonical = normalise_address(address)
        except InvalidAddress:
            canonical = address.strip().casefold()
    return hashlib.sha256(f"depesche-suppression:{canonical}".encode()).hexdigest()
