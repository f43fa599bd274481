"""Subscriber lists: double opt-in state, who delivery gets, signed links, suppression."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.db import session_scope
from config.models import Event
from config.settings import configure, load_settings
from tests.services import EXAMPLE
from workers.addresses import InvalidAddress, normalise_address
from workers.subscriber_models import Subscriber
from workers.subscribers import (
    confirm,
    email_recipients,
    is_suppressed,
    press_recipients,
    sign_up,
    suppress,
    unsubscribe,
)
from workers.tokens import (
    BadToken,
    MissingSecretKey,
    confirm_token,
    read_confirm_token,
    read_unsubscribe_token,
    unsubscribe_token,
)

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
SECRET = "test-secret-not-for-production-0123456789"


@pytest.fixture()
def configured() -> Iterator[None]:
    configure(load_settings(EXAMPLE, secret_key=SECRET, public_url="https://news.example.org"))
    yield
    configure(None)


def _sign_up(
    session: Session,
    address: str,
    audience: str | None = "betriebsraete",
    *,
    initiative: str = "krefeld",
    name: str | None = None,
    now: datetime = NOW,
) -> Subscriber:
    return sign_up(
        session,
        initiative=initiative,
        address=address,
        name=name,
        audience=audience,
        source="cli",
        ip=None,
        consent_version=None,
        now=now,
    )


def test_unconfirmed_subscribers_are_never_recipients(database_url: str, configured: None) -> None:
    with session_scope(database_url) as session:
        _sign_up(session, "erika.beispiel@example.org")

    with session_scope(database_url) as session:
        assert email_recipients(session, "krefeld", "betriebsraete") == []
        assert email_recipients(session, "krefeld", None) == []


def test_confirmed_subscriber_of_the_audience_is_a_recipient_with_a_signed_unsubscribe_url(
    database_url: str, configured: None
) -> None:
    with session_scope(database_url) as session:
        first = _sign_up(session, "Erika.Beispiel@Example.ORG", name="Erika Beispiel")
        other = _sign_up(session, "max.muster@example.org", audience="unternehmen")
        confirm(session, first.id, None, ip="192.0.2.1", now=NOW)
        confirm(session, other.id, None, ip="192.0.2.2", now=NOW)
        first_id = first.id

    with session_scope(database_url) as session:
        recipients = email_recipients(session, "krefeld", "betriebsraete")
        everyone = email_recipients(session, "krefeld", None)
        elsewhere = email_recipients(session, "frankfurt", "betriebsraete")

    assert [r.address for r in recipients] == ["erika.beispiel@example.org"]
    recipient = recipients[0]
    assert recipient.ref == f"subscriber:{first_id}" and recipient.name == "Erika Beispiel"
    assert recipient.audience == "betriebsraete"
    assert recipient.unsubscribe_url is not None
    assert recipient.unsubscribe_url.startswith("https://news.example.org/u/")
    token = recipient.unsubscribe_url.rsplit("/", 1)[1]
    assert read_unsubscribe_token(SECRET, token).subscriber_id == first_id
    assert len(everyone) == 2
    assert elsewhere == []


def test_addresses_are_normalised_and_unique_per_initiative(database_url: str) -> None:
    with session_scope(database_url) as session:
        a = _sign_up(session, " Erika.Beispiel@EXAMPLE.org ")
        b = _sign_up(session, "erika.beispiel@example.org", audience="kammern")
        c = _sign_up(session, "erika.beispiel@example.org", initiative="frankfurt")
        assert a.id == b.id != c.id
        assert b.audience == "kammern"
        count = session.scalar(select(func.count()).select_from(Subscriber))
    assert count == 2
    with pytest.raises(InvalidAddress, match="not a valid e-mail address"):
        normalise_address("erika.beispiel@")


def test_unsubscribed_and_suppressed_subscribers_are_not_recipients(
    database_url: str, configured: None
) -> None:
    with session_scope(database_url) as session:
        ids = []
        for address in ("a@example.org", "b@example.org", "c@example.org"):
            subscriber = _sign_up(session, address)
            confirm(session, subscriber.id, None, ip=None, now=NOW)
            ids.append(subscriber.id)
        unsubscribe(session, ids[0], "krefeld", now=NOW)
        unsubscribe(session, ids[0], "krefeld", now=NOW + timedelta(hours=1))  # a repeat
        assert suppress(session, "B@example.org", "bounce", now=NOW, detail="5.1.1")
        assert not suppress(session, "b@example.org", "complaint", now=NOW)

    with session_scope(database_url) as session:
        assert [r.address for r in email_recipients(session, "krefeld", None)] == ["c@example.org"]
        assert is_suppressed(session, "b@EXAMPLE.org")
        assert not is_suppressed(session, "c@example.org")
        unsubscribed = session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "subscriber.unsubscribed")
        )
    assert unsubscribed == 1


def test_confirming_twice_records_one_confirmation_and_an_unsubscribe_wins(
    database_url: str,
) -> None:
    with session_scope(database_url) as session:
        subscriber = _sign_up(session, "erika.beispiel@example.org")
        confirm(session, subscriber.id, None, ip="192.0.2.1", now=NOW)
        confirm(session, subscriber.id, None, ip="192.0.2.9", now=NOW + timedelta(minutes=5))
        assert subscriber.confirmed_at == NOW
        unsubscribe(session, subscriber.id, "krefeld", now=NOW + timedelta(days=1))
        again = confirm(session, subscriber.id, None, ip=None, now=NOW + timedelta(days=2))
        assert again is not None and again.status == "unsubscribed"
        # Signing up again starts over: unconfirmed, and a new confirmation is due.
        back = _sign_up(session, "erika.beispiel@example.org", now=NOW + timedelta(days=3))
        assert back.status == "unconfirmed"


def test_press_recipients_are_the_initiatives_journalists_without_suppressed(
    database_url: str, tmp_path: Path
) -> None:
    from workers.list_import import import_press

    csv = tmp_path / "presse.csv"
    csv.write_text(
        "name,outlet,beat,email\n"
        "Jana Redlich,Rheinische Post Krefeld,Wirtschaft,j.redlich@rp-krefeld.example.org\n"
        "Tom Kamera,WDR Lokalzeit,Industrie,tom.kamera@lokalzeit.example.org\n",
        encoding="utf-8",
    )
    with session_scope(database_url) as session:
        result = import_press(session, csv, initiative="krefeld", now=NOW)
        suppress(session, "tom.kamera@lokalzeit.example.org", "bounce", now=NOW)
    assert result.added == 2 and result.problems == []

    with session_scope(database_url) as session:
        recipients = press_recipients(session, "krefeld")
    assert [(r.name, r.address) for r in recipients] == [
        ("Jana Redlich", "j.redlich@rp-krefeld.example.org")
    ]
    assert recipients[0].ref.startswith("journalist:") and recipients[0].unsubscribe_url is None


def test_confirm_token_round_trips_and_expires_after_seven_days() -> None:
    token = confirm_token(SECRET, 17, "v1", now=NOW)

    assert read_confirm_token(SECRET, token, now=NOW + timedelta(days=6)).subscriber_id == 17
    with pytest.raises(BadToken) as expired:
        read_confirm_token(SECRET, token, now=NOW + timedelta(days=8))
    assert expired.value.expired


def test_tampered_tokens_and_tokens_of_another_key_are_refused() -> None:
    token = unsubscribe_token(SECRET, 17, "krefeld")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    with pytest.raises(BadToken) as bad:
        read_unsubscribe_token(SECRET, tampered)
    assert not bad.value.expired
    with pytest.raises(BadToken):
        read_unsubscribe_token("another-secret", token)
    with pytest.raises(BadToken):  # a confirm token is no unsubscribe token (salts differ)
        read_unsubscribe_token(SECRET, confirm_token(SECRET, 17, None, now=NOW))


def test_a_missing_secret_key_is_a_clear_error() -> None:
    with pytest.raises(MissingSecretKey, match="DEPESCHE_SECRET_KEY is not set"):
        unsubscribe_token(None, 1, "krefeld")
