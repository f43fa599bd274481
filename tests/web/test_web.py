"""The web app, served by uvicorn on a free loopback port and driven with requests.

Most tests run the app in a uvicorn thread of the test process (a clock can be injected, and
the confirmation mail lands in the ``mail_sink`` aiosmtpd); one starts the real `depesche web`.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import uvicorn

from campaigns.workspace import load_workspace
from config.db import session_scope
from config.settings import Settings, configure, load_settings
from tests.mail_sink import MailSink
from tests.services import ROOT, depesche_command, depesche_env, free_port
from web.app import create_app
from workers.consent import consent_text
from workers.gdpr import export_person
from workers.subscribers import confirm, email_recipients, is_suppressed, sign_up, suppress
from workers.tokens import confirm_token

SECRET = "web-test-secret-0123456789-abcdefghij"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/c/[A-Za-z0-9_.\-]+")


@dataclass
class WebApp:
    url: str
    settings: Settings
    clock: list[datetime]


@pytest.fixture()
def web_app(database_url: str, example_workspace: Path, mail_sink: MailSink) -> Iterator[WebApp]:
    port = free_port()
    settings = load_settings(
        example_workspace,
        database_url=database_url,
        secret_key=SECRET,
        public_url=f"http://127.0.0.1:{port}",
        smtp_url=mail_sink.url,
    )
    configure(settings)
    clock = [NOW]
    app = create_app(settings, load_workspace(example_workspace), clock=lambda: clock[0])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield WebApp(f"http://127.0.0.1:{port}", settings, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        configure(None)


def _recipients(app: WebApp, audience: str | None = "betriebsraete") -> list[str]:
    with session_scope(app.settings.resolved_database_url) as session:
        return [r.address for r in email_recipients(session, "krefeld", audience)]


def _confirmed(app: WebApp, address: str) -> str:
    """A confirmed subscriber made directly; returns its unsubscribe URL."""
    with session_scope(app.settings.resolved_database_url) as session:
        subscriber = sign_up(
            session, initiative="krefeld", address=address, name=None, audience="betriebsraete",
            source="cli", ip=None, consent_version=None, now=NOW,
        )  # fmt: skip
        confirm(session, subscriber.id, None, ip=None, now=NOW)
    with session_scope(app.settings.resolved_database_url) as session:
        [recipient] = [
            r for r in email_recipients(session, "krefeld", "betriebsraete") if r.address == address
        ]
    assert recipient.unsubscribe_url is not None
    return recipient.unsubscribe_url


def test_double_opt_in_from_form_to_recipient(web_app: WebApp, mail_sink: MailSink) -> None:
    form = requests.get(f"{web_app.url}/s/krefeld", timeout=10)
    assert form.status_code == 200
    assert "Newsletter bestellen" in form.text and "Betriebsrätinnen und Betriebsräte" in form.text
    version = re.search(r'name="consent_version" value="([0-9a-f]{64})"', form.text)
    assert version is not None

    answer = requests.post(
        f"{web_app.url}/s/krefeld",
        data={"email": "Erika.Beispiel@Example.org", "name": "Erika Beispiel",
              "audience": "betriebsraete", "consent": "yes", "consent_version": version[1]},
        timeout=10,
    )  # fmt: skip

    assert answer.status_code == 200 and "Fast geschafft" in answer.text
    assert _recipients(web_app) == []  # unconfirmed: nothing yet
    [mail] = mail_sink.received()
    assert mail.rcpt_tos == ("erika.beispiel@example.org",)
    message = mail.message
    assert message["Subject"] == "Bitte bestätigen Sie Ihre Newsletter-Anmeldung"
    assert "newsletter@krefeld.example.org" in str(message["From"])
    assert str(message["To"]) == "erika.beispiel@example.org"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Guten Tag Erika Beispiel,")
    # Confirms, nothing else: the only links are the confirmation and the privacy policy.
    links = re.findall(r"https?://\S+", text)
    assert len(links) == 2 and links[1].endswith("/datenschutz")
    assert "Montag, 23. November 2026" in text

    # A second submission a moment later sends no second mail (no flooding via the form).
    requests.post(
        f"{web_app.url}/s/krefeld",
        data={"email": "erika.beispiel@example.org", "audience": "betriebsraete",
              "consent": "yes", "consent_version": version[1]},
        timeout=10,
    )  # fmt: skip
    assert len(mail_sink.received()) == 1

    link = LINK.search(text)
    assert link is not None and link[0] == links[0]
    web_app.clock[0] = NOW + timedelta(hours=2)
    # Opening the link (as a mail scanner does) only asks; the button's POST confirms.
    opened = requests.get(link[0], timeout=10)
    assert opened.status_code == 200 and 'method="post"' in opened.text
    assert _recipients(web_app) == []
    confirmed = requests.post(link[0], timeout=10)

    assert confirmed.status_code == 200 and "Anmeldung bestätigt" in confirmed.text
    assert _recipients(web_app) == ["erika.beispiel@example.org"]
    assert _recipients(web_app, "unternehmen") == []
    with session_scope(web_app.settings.resolved_database_url) as session:
        data = export_person(session, "erika.beispiel@example.org", now=NOW)
    consent = {r["action"]: r for r in data["subscriptions"][0]["consent"]}
    assert consent["signup"]["ip"] == "127.0.0.1" and consent["confirm"]["ip"] == "127.0.0.1"
    assert consent["confirm"]["at"] == (NOW + timedelta(hours=2)).isoformat()
    krefeld = load_workspace(web_app.settings.workspace).initiatives["krefeld"]
    assert consent["signup"]["consent_text"] == consent_text(krefeld)
    assert consent["confirm"]["consent_version"] == version[1]


def test_sign_up_without_consent_or_with_a_bad_address_is_refused(
    web_app: WebApp, mail_sink: MailSink
) -> None:
    no_consent = requests.post(
        f"{web_app.url}/s/krefeld",
        data={"email": "erika.beispiel@example.org", "audience": "kammern"},
        timeout=10,
    )
    bad_address = requests.post(
        f"{web_app.url}/s/krefeld",
        data={"email": "erika.beispiel@", "audience": "kammern", "consent": "yes"},
        timeout=10,
    )
    unknown = requests.get(f"{web_app.url}/s/atlantis", timeout=10)

    assert no_consent.status_code == 400 and "Bitte willigen Sie ein" in no_consent.text
    assert bad_address.status_code == 400 and "E-Mail-Adresse" in bad_address.text
    assert unknown.status_code == 404
    assert mail_sink.received() == []


def test_unsubscribe_get_only_asks_and_post_unsubscribes_once(web_app: WebApp) -> None:
    url = _confirmed(web_app, "max.muster@example.org")

    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Newsletter abbestellen" in page.text
    assert 'method="post"' in page.text
    assert _recipients(web_app) == ["max.muster@example.org"]  # a GET changes nothing

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    one_click = requests.post(url, data="List-Unsubscribe=One-Click", headers=form, timeout=10)
    assert one_click.status_code == 200 and "Abmeldung erfolgreich" in one_click.text
    assert _recipients(web_app) == []

    again = requests.post(url, data="List-Unsubscribe=One-Click", timeout=10)
    assert again.status_code == 200
    assert "Bereits abgemeldet" in requests.get(url, timeout=10).text


def test_tampered_and_expired_links_get_a_clear_400_page(web_app: WebApp) -> None:
    url = _confirmed(web_app, "max.muster@example.org")
    tampered = url[:-3] + ("xyz" if not url.endswith("xyz") else "abc")
    old = confirm_token(SECRET, 1, None, now=NOW - timedelta(days=8))

    for response in (
        requests.get(tampered, timeout=10),
        requests.post(tampered, data="List-Unsubscribe=One-Click", timeout=10),
        requests.get(f"{web_app.url}/c/not-a-token", timeout=10),
        requests.post(f"{web_app.url}/c/not-a-token", timeout=10),
    ):
        assert response.status_code == 400
        assert "Der Link ist ungültig" in response.text
    for expired in (
        requests.get(f"{web_app.url}/c/{old}", timeout=10),
        requests.post(f"{web_app.url}/c/{old}", timeout=10),
    ):
        assert expired.status_code == 400 and "Der Link ist abgelaufen" in expired.text
    assert _recipients(web_app) == ["max.muster@example.org"]  # nothing unsubscribed


def test_consent_page_and_health(web_app: WebApp) -> None:
    consent = requests.get(f"{web_app.url}/consent/krefeld", timeout=10)
    health = requests.get(f"{web_app.url}/healthz", timeout=10)

    assert consent.status_code == 200
    assert "Ich kann die Einwilligung jederzeit" in consent.text
    assert re.search(r"<code>[0-9a-f]{64}</code>", consent.text)
    assert health.json() == {"status": "ok"}


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait(url: str, process: subprocess.Popen[str], alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and alive():
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"`depesche web` did not answer: {process.communicate(timeout=5)}")


def test_depesche_web_serves_the_app_and_refuses_to_start_without_a_secret(
    database_url: str, example_workspace: Path
) -> None:
    port = free_port()
    env = depesche_env(database_url=database_url, workspace=str(example_workspace))
    no_secret = subprocess.run(
        depesche_command("web", "--port", str(port)),
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert no_secret.returncode == 2
    assert "DEPESCHE_SECRET_KEY is not set" in no_secret.stderr

    env["DEPESCHE_SECRET_KEY"] = SECRET
    process = _start(depesche_command("web", "--host", "127.0.0.1", "--port", str(port)), env)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", process, lambda: process.poll() is None)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        form = requests.get(f"http://127.0.0.1:{port}/s/krefeld", timeout=10)
        assert form.status_code == 200 and "Industrieinitiative Krefeld" in form.text
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_sign_up_while_the_mail_server_is_down_can_be_repeated_at_once(
    web_app: WebApp, mail_sink: MailSink
) -> None:
    data = {"email": "erika.beispiel@example.org", "audience": "kammern", "consent": "yes"}
    mail_sink.stop()
    try:
        down = requests.post(f"{web_app.url}/s/krefeld", data=data, timeout=60)
    finally:
        mail_sink.start()
    assert down.status_code == 503 and "nicht versenden" in down.text

    again = requests.post(f"{web_app.url}/s/krefeld", data=data, timeout=60)

    assert again.status_code == 200
    assert [m.rcpt_tos for m in mail_sink.received()] == [("erika.beispiel@example.org",)]


def test_bounced_addresses_get_no_confirmation_mail_but_erased_ones_may_sign_up_again(
    web_app: WebApp, mail_sink: MailSink
) -> None:
    with session_scope(web_app.settings.resolved_database_url) as session:
        suppress(session, "heinz.weg@example.org", "bounce", now=NOW, detail="5.1.1")
        suppress(session, "erika.beispiel@example.org", "erased", now=NOW)
    for address in ("heinz.weg@example.org", "erika.beispiel@example.org"):
        answer = requests.post(
            f"{web_app.url}/s/krefeld",
            data={"email": address, "audience": "kammern", "consent": "yes"},
            timeout=10,
        )
        assert answer.status_code == 200 and "Fast geschafft" in answer.text  # the same page

    [mail] = mail_sink.received()
    assert mail.rcpt_tos == ("erika.beispiel@example.org",)
    link = LINK.search(mail.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert link is not None
    requests.post(link[0], timeout=10)
    with session_scope(web_app.settings.resolved_database_url) as session:
        assert not is_suppressed(session, "erika.beispiel@example.org")
    assert _recipients(web_app, "kammern") == ["erika.beispiel@example.org"]
