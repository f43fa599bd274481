"""GDPR: one person's data as JSON, erasure with a hashed suppression entry, retention purge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.workspace import load_workspace
from config.db import session_scope
from content.models import Piece
from tests.services import EXAMPLE
from workers.consent import consent_text, record_consent_text
from workers.gdpr import ERASED_TARGET, erase_person, export_person, purge
from workers.list_import import import_subscribers
from workers.models import Delivery
from workers.subscriber_models import ConsentRecord, Subscriber, Suppression
from workers.subscribers import confirm, is_suppressed, sign_up

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
ADDRESS = "erika.beispiel@example.org"


def _piece(session: Session, key: str = "piece-1", campaign: str = "wochenrueckblick") -> Piece:
    piece = Piece(
        key=key,
        slot_key=f"slot-{key}",
        initiative="krefeld",
        campaign=campaign,
        deliverable="digest",
        kind="newsletter",
        state="delivered",
        provenance={},
        created_at=NOW - timedelta(days=400),
    )
    session.add(piece)
    session.flush()
    return piece


def _delivery(session: Session, piece: Piece, target: str, ref: str, **values: Any) -> Delivery:
    delivery = Delivery(
        key=f"{piece.key}|email|{ref}",
        piece_id=piece.id,
        channel="email",
        target=target,
        target_ref=ref,
        options={"unsubscribe_url": "https://news.example.org/u/x", "name": "Erika Beispiel"},
        status=values.pop("status", "sent"),
        attempts=1,
        due_at=values.get("created_at", NOW),
        created_at=values.pop("created_at", NOW),
        external_id=values.pop("external_id", "<abc@krefeld.example.org>"),
    )
    session.add(delivery)
    session.flush()
    return delivery


def _confirmed(session: Session, address: str = ADDRESS) -> Subscriber:
    initiative = load_workspace(EXAMPLE).initiatives["krefeld"]
    version = record_consent_text(session, "krefeld", consent_text(initiative), NOW)
    subscriber = sign_up(
        session,
        initiative="krefeld",
        address=address,
        name="Erika Beispiel",
        audience="betriebsraete",
        source="web",
        ip="192.0.2.10",
        consent_version=version,
        now=NOW,
    )
    confirm(session, subscriber.id, version, ip="192.0.2.11", now=NOW + timedelta(minutes=3))
    return subscriber


def test_export_contains_subscriptions_consent_proofs_and_deliveries(database_url: str) -> None:
    with session_scope(database_url) as session:
        subscriber = _confirmed(session)
        _delivery(session, _piece(session), ADDRESS, f"subscriber:{subscriber.id}")

    with session_scope(database_url) as session:
        data = export_person(session, "Erika.Beispiel@example.org", now=NOW)

    json.dumps(data)  # plain JSON
    assert data["address"] == ADDRESS
    [subscription] = data["subscriptions"]
    assert subscription["initiative"] == "krefeld" and subscription["status"] == "confirmed"
    consent = {record["action"]: record for record in subscription["consent"]}
    assert consent["signup"]["ip"] == "192.0.2.10"
    assert consent["confirm"]["ip"] == "192.0.2.11"
    assert consent["confirm"]["at"] == (NOW + timedelta(minutes=3)).isoformat()
    assert consent["signup"]["consent_text"].startswith("Ja, ich möchte den Newsletter")
    assert len(consent["signup"]["consent_version"]) == 64
    [delivery] = data["deliveries"]
    assert delivery["status"] == "sent" and delivery["message_id"] == "<abc@krefeld.example.org>"
    assert data["suppressed"] is None


def test_erasure_removes_the_person_and_an_erased_address_is_not_reimported(
    database_url: str, tmp_path: Path
) -> None:
    with session_scope(database_url) as session:
        subscriber = _confirmed(session)
        ref = f"subscriber:{subscriber.id}"
        piece = _piece(session)
        _delivery(session, piece, ADDRESS, ref)
        waiting = _delivery(
            session, _piece(session, "piece-2"), ADDRESS, ref, status="pending", external_id=None
        )
        waiting_id = waiting.id

    with session_scope(database_url) as session:
        done = erase_person(session, ADDRESS, now=NOW + timedelta(days=1))
    assert (done.subscriptions, done.deliveries) == (1, 2)

    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 0
        targets = set(session.scalars(select(Delivery.target)))
        assert targets == {ERASED_TARGET}
        assert all(d.options == {} for d in session.scalars(select(Delivery)))
        assert session.get(Delivery, waiting_id).status == "suppressed"  # type: ignore[union-attr]
        assert set(session.scalars(select(Delivery.target_ref))) == {ref}  # statistics stay
        assert is_suppressed(session, ADDRESS)
        [entry] = session.scalars(select(Suppression))
        assert entry.reason == "erased" and ADDRESS not in entry.address_hash
        assert export_person(session, ADDRESS, now=NOW)["subscriptions"] == []

    sheet = tmp_path / "alte-liste.csv"
    sheet.write_text(f"email,name\n{ADDRESS},Erika Beispiel\n", encoding="utf-8")
    with session_scope(database_url) as session:
        result = import_subscribers(
            session,
            sheet,
            initiative="krefeld",
            audiences=(),
            default_audience=None,
            consent_note="Visitenkarten vom Industriedialog 2025",
            now=NOW + timedelta(days=2),
        )
        assert result.added == 0 and len(result.skipped) == 1
        assert "alte-liste.csv:2" in result.skipped[0]
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_a_new_confirmed_sign_up_lifts_the_erasure_suppression(database_url: str) -> None:
    with session_scope(database_url) as session:
        _confirmed(session)
        erase_person(session, ADDRESS, now=NOW)
    with session_scope(database_url) as session:
        _confirmed(session)
        assert not is_suppressed(session, ADDRESS)


def test_purge_deletes_stale_sign_ups_and_old_deliveries_at_the_injected_now(
    database_url: str,
) -> None:
    with session_scope(database_url) as session:
        for address, days_ago in (("old@example.org", 31), ("new@example.org", 29)):
            sign_up(
                session,
                initiative="krefeld",
                address=address,
                name=None,
                audience=None,
                source="web",
                ip="192.0.2.1",
                consent_version=None,
                now=NOW - timedelta(days=days_ago),
            )
        kept = sign_up(
            session,
            initiative="krefeld",
            address="confirmed@example.org",
            name=None,
            audience=None,
            source="web",
            ip=None,
            consent_version=None,
            now=NOW - timedelta(days=200),
        )
        confirm(session, kept.id, None, ip=None, now=NOW - timedelta(days=199))
        piece = _piece(session)
        _delivery(
            session, piece, "a@example.org", "subscriber:1", created_at=NOW - timedelta(days=366)
        )
        _delivery(
            session, piece, "b@example.org", "subscriber:2", created_at=NOW - timedelta(days=364)
        )
        _delivery(
            session, piece, "c@example.org", "subscriber:3",
            created_at=NOW - timedelta(days=400), status="unknown",
        )  # fmt: skip

    with session_scope(database_url) as session:
        done = purge(session, now=NOW, unconfirmed_days=30, delivery_days=365)
    assert (done.unconfirmed, done.deliveries) == (1, 1)

    with session_scope(database_url) as session:
        addresses = set(session.scalars(select(Subscriber.address)))
        targets = set(session.scalars(select(Delivery.target)))
    assert addresses == {"new@example.org", "confirmed@example.org"}
    # An `unknown` delivery waits for an operator's decision; retention does not decide it.
    assert targets == {"b@example.org", "c@example.org"}

    with session_scope(database_url) as session:
        again = purge(session, now=NOW, unconfirmed_days=30, delivery_days=365)
    assert (again.unconfirmed, again.deliveries) == (0, 0)


def test_beat_purges_once_a_day_through_a_registered_task(
    database_url: str, example_workspace: Path
) -> None:
    from config.celery_app import app
    from config.settings import load_settings
    from workers.beat import beat_schedule
    from workers.gdpr import purge_expired

    settings = load_settings(example_workspace, database_url=database_url)
    entry = beat_schedule(load_workspace(example_workspace), settings)["purge-retention"]
    import workers.tasks

    assert entry["schedule"] == timedelta(days=1)
    assert entry["task"] in app.tasks and workers.tasks.purge_retention.name == entry["task"]
    with session_scope(database_url) as session:
        sign_up(
            session, initiative="krefeld", address="stale@example.org", name=None,
            audience=None, source="web", ip=None, consent_version=None,
            now=NOW - timedelta(days=settings.unconfirmed_retention_days + 1),
        )  # fmt: skip
    assert purge_expired(settings, now=NOW) == {"unconfirmed": 1, "deliveries": 0}
