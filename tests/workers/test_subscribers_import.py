"""CSV imports: bad rows named by line, good rows kept, repeats harmless, consent respected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from config.db import session_scope
from workers.list_import import ImportFileInvalid, import_press, import_subscribers
from workers.subscriber_models import ConsentRecord, PressContact, Subscriber

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
AUDIENCES = {"unternehmen": "Unternehmen", "betriebsraete": "Betriebsräte", "kammern": "Kammern"}

SHEET = (
    "email,name,audience\n"
    "erika.beispiel@example.org,Erika Beispiel,betriebsraete\n"
    "kaputt-at-example.org,Kein Name,unternehmen\n"
    "max.muster@example.org,Max Muster,gewerkschaftsbund\n"
    "Erika.Beispiel@example.org,Erika B.,betriebsraete\n"
    "lena.hagen@example.org,,\n"
    ",Ohne Adresse,kammern\n"
)


def _import(database_url: str, path: Path, **kw: object):  # type: ignore[no-untyped-def]
    with session_scope(database_url) as session:
        return import_subscribers(
            session,
            path,
            initiative="krefeld",
            audiences=AUDIENCES,
            default_audience=kw.get("default_audience", "kammern"),  # type: ignore[arg-type]
            consent_note=kw.get("consent_note"),  # type: ignore[arg-type]
            now=NOW,
        )


def test_bad_rows_are_named_with_their_line_and_good_rows_are_imported(
    database_url: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "liste.csv"
    sheet.write_text(SHEET, encoding="utf-8")

    result = _import(database_url, sheet)

    problems = "\n".join(result.problems)
    assert f"{sheet}:3: email: 'kaputt-at-example.org' is not a valid e-mail address" in problems
    assert f"{sheet}:4: audience: unknown audience 'gewerkschaftsbund'" in problems
    assert f"{sheet}:5: email: erika.beispiel@example.org already appears on line 2" in problems
    assert f"{sheet}:7: email: missing" in problems
    assert len(result.problems) == 4
    assert result.added == 2 and len(result.to_confirm) == 2
    with session_scope(database_url) as session:
        rows = {s.address: s for s in session.scalars(select(Subscriber))}
    assert set(rows) == {"erika.beispiel@example.org", "lena.hagen@example.org"}
    assert rows["lena.hagen@example.org"].audience == "kammern"  # the --audience default
    assert all(s.status == "unconfirmed" and s.source == "import" for s in rows.values())

    # Fixing the file and importing again keeps what was imported and adds the fixed rows.
    sheet.write_text(SHEET.replace("kaputt-at-", "kaputt@"), encoding="utf-8")
    again = _import(database_url, sheet)
    assert again.added == 1 and again.updated == 2
    # No mail went out in this test, so all three are still due one (sending dedupes).
    assert len(again.to_confirm) == 3
    with session_scope(database_url) as session:
        assert len(list(session.scalars(select(Subscriber)))) == 3


def test_documented_prior_consent_confirms_and_is_kept_as_proof(
    database_url: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "liste.csv"
    sheet.write_text(
        "\ufeffemail;name;audience\nerika.beispiel@example.org;Erika Beispiel;unternehmen\n",
        encoding="utf-8",
    )  # German Excel: BOM and semicolons
    note = "Schriftliche Einwilligung auf der Anmeldeliste des Industriedialogs vom 3. März 2026"

    result = _import(database_url, sheet, consent_note=note)

    assert result.problems == [] and result.confirmed == 1 and result.to_confirm == []
    with session_scope(database_url) as session:
        subscriber = session.scalars(select(Subscriber)).one()
        records = {r.action: r for r in session.scalars(select(ConsentRecord))}
    assert subscriber.status == "confirmed" and subscriber.confirmed_at == NOW
    assert records["documented"].note == note


def test_a_file_without_an_email_column_is_refused_as_a_whole(tmp_path: Path) -> None:
    sheet = tmp_path / "liste.csv"
    sheet.write_text("mail,name\nerika.beispiel@example.org,Erika\n", encoding="utf-8")

    expected = r"liste.csv:1: header: missing column\(s\) email"
    with pytest.raises(ImportFileInvalid, match=expected), session_scope("sqlite://") as session:
        import_subscribers(
            session, sheet, initiative="krefeld", audiences=(), default_audience=None,
            consent_note=None, now=NOW,
        )  # fmt: skip


def test_press_import_names_missing_fields_and_updates_on_repeat(
    database_url: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "presse.csv"
    sheet.write_text(
        "name,outlet,beat,email\n"
        "Jana Redlich,Rheinische Post Krefeld,Wirtschaft,j.redlich@rp-krefeld.example.org\n"
        "Ohne Medium,,Politik,ohne.medium@example.org\n",
        encoding="utf-8",
    )
    with session_scope(database_url) as session:
        first = import_press(session, sheet, initiative="krefeld", now=NOW)
    assert first.added == 1 and first.problems == [f"{sheet}:3: outlet: missing"]

    sheet.write_text(
        "name,outlet,beat,email\n"
        "Jana Redlich,Westdeutsche Zeitung,Wirtschaft,J.Redlich@rp-krefeld.example.org\n",
        encoding="utf-8",
    )
    with session_scope(database_url) as session:
        second = import_press(session, sheet, initiative="krefeld", now=NOW)
        [contact] = session.scalars(select(PressContact))
    assert second.updated == 1 and contact.outlet == "Westdeutsche Zeitung"
