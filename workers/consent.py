"""The consent text a person agrees to when signing up, and its version.

The proof of consent (Art. 7 Abs. 1 DSGVO) must show *which* text was agreed to; the text is
built from the initiative's imprint, so it changes when the imprint does. Its SHA-256 is its
version; the exact wording is stored once per version (``consent_texts``) and every consent
record points at it, so an old proof still shows the words the person saw.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.schema import Initiative
from workers.subscriber_models import ConsentText


def consent_text(initiative: Initiative) -> str:
    imprint = initiative.imprint
    return (
        f"Ja, ich möchte den Newsletter der {initiative.name} per E-Mail erhalten: "
        f"Meldungen, Termine und Hintergründe aus der Region {initiative.region}. "
        "Meine E-Mail-Adresse, meinen Namen (falls angegeben) und die gewählte Zielgruppe "
        "speichert die Initiative nur für diesen Versand, dazu Zeitpunkt und IP-Adresse von "
        "Anmeldung und Bestätigung als Nachweis meiner Einwilligung. "
        "Ich kann die Einwilligung jederzeit mit Wirkung für die Zukunft widerrufen: über den "
        f"Abmeldelink in jeder Ausgabe oder per E-Mail an {imprint.email}. "
        f"Verantwortlich: {imprint.organisation}, {imprint.address}. "
        f"Hinweise zum Datenschutz: {imprint.privacy_url}"
    )


def consent_version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_consent_text(session: Session, initiative: str, text: str, now: datetime) -> str:
    """Store ``text`` once under its version and return the version."""
    version = consent_version(text)
    if session.get(ConsentText, version) is None:
        try:
            with session.begin_nested():
                session.add(
                    ConsentText(version=version, initiative=initiative, text=text, created_at=now)
                )
        except IntegrityError:  # stored by a concurrent sign-up in the meantime
            pass
    return version
