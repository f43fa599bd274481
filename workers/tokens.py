"""Signed tokens for the links in our mails: confirm a sign-up, unsubscribe from one list.

itsdangerous signs them with DEPESCHE_SECRET_KEY, so a link cannot be forged or pointed at
another subscriber. Confirmation tokens expire (a forwarded or leaked old mail must not
subscribe anyone); unsubscribe tokens do not, because a person must be able to leave from any
mail we ever sent. The clock is injected: the signer's timestamp is ``now``, not the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)

CONFIRM_SALT = "depesche.confirm"
UNSUBSCRIBE_SALT = "depesche.unsubscribe"
CONFIRM_MAX_AGE = timedelta(days=7)


class MissingSecretKey(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "DEPESCHE_SECRET_KEY is not set: confirmation and unsubscribe links are signed "
            'with it. Set it to a long random value (e.g. `python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"`) in the environment of every Depesche process.'
        )


class BadToken(ValueError):
    """A link that was altered, belongs to another key, or has expired (``expired``)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def require_secret(secret: str | None) -> str:
    if not secret:
        raise MissingSecretKey()
    return secret


def _signer_at(now: datetime) -> type[TimestampSigner]:
    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now.timestamp())

    return _Signer


@dataclass(frozen=True)
class Confirmation:
    subscriber_id: int
    consent_version: str | None


def confirm_token(secret: str | None, subscriber_id: int, consent_version: str | None,
                  *, now: datetime) -> str:  # fmt: skip
    serializer = URLSafeTimedSerializer(
        require_secret(secret), salt=CONFIRM_SALT, signer=_signer_at(now)
    )
    return str(serializer.dumps({"s": subscriber_id, "v": consent_version}))


def read_confirm_token(
    secret: str | None, token: str, *, now: datetime, max_age: timedelta = CONFIRM_MAX_AGE
) -> Confirmation:
    serializer = URLSafeTimedSerializer(
        require_secret(secret), salt=CONFIRM_SALT, signer=_signer_at(now)
    )
    try:
        data: Any = serializer.loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise BadToken("the confirmation link has expired", expired=True) from None
    except BadSignature:
        raise BadToken("the confirmation link is not valid") from None
    return Confirmation(int(data["s"]), data.get("v"))


@dataclass(frozen=True)
class Unsubscribe:
    subscriber_id: int
    initiative: str


def _unsubscribe_signer(secret: str | None) -> Signer:
    # A plain Signer over ``<id>.<initiative>``: a digest signs thousands of these, and the
    # serializers' JSON and compression attempt cost thirty times as much per token.
    return Signer(require_secret(secret), salt=UNSUBSCRIBE_SALT)


def unsubscribe_signer(secret: str | None) -> Callable[[int, str], str]:
    """One signer for many tokens: a digest's recipients are signed in one go."""
    signer = _unsubscribe_signer(secret)

    def sign(subscriber_id: int, initiative: str) -> str:
        return signer.sign(f"{subscriber_id}.{initiative}").decode("ascii")

    return sign


def unsubscribe_token(secret: str | None, subscriber_id: int, initiative: str) -> str:
    return unsubscribe_signer(secret)(subscriber_id, initiative)


def read_unsubscribe_token(secret: str | None, token: str) -> Unsubscribe:
    try:
        payload = _unsubscribe_signer(secret).unsign(token).decode("ascii")
        number, _, initiative = payload.partition(".")
        return Unsubscribe(int(number), initiative)
    except (BadSignature, ValueError, UnicodeDecodeError):
        raise BadToken("the unsubscribe link is not valid") from None
