"""The SMTP channel against a real aiosmtpd: TLS, AUTH, headers, DKIM, rate limit, failures."""

from __future__ import annotations

import base64
import ssl
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path

import dkim
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config.settings import Settings
from content.email_message import UNSUBSCRIBE_PLACEHOLDER, build_eml
from tests.mail_sink import MailSink
from tests.services import free_port
from workers.channels.base import Attachment, Outgoing, PermanentError, TransientError
from workers.channels.dkim import DkimConfigError, DkimSigner, load_key
from workers.channels.rate_limit import TokenBucket
from workers.channels.smtp import OutcomeUnknown, SmtpChannel, SmtpServer, message_id
from workers.channels.smtp_message import compile_piece, render

PASSWORD = "geheim-Pa55wort!"
UNSUBSCRIBE = "https://depesche.example.org/u/eyJzIjoxMjN9.c2lnbmF0dXJl"
SUBJECT = "Wochenrückblick: Industrie in Thüringen – Ausgabe 47"


def piece_eml(key: str = "wochenrueckblick/thueringen/2026-11-23") -> bytes:
    long_line = "x" * 60
    return build_eml(
        key=key,
        sender_name="Industriedialog Thüringen",
        sender_email="newsletter@thueringen.example.org",
        reply_to="presse@thueringen.example.org",
        subject=SUBJECT,
        preheader="Neues aus Jena, Erfurt und Suhl",
        text=f"Grüß Gott!\n\nNewsletter abbestellen: {UNSUBSCRIBE_PLACEHOLDER}\n",
        html=(
            f'<p>Grüß Gott!</p>\n<p style="{long_line}"><a href="https://thueringen.example.org'
            f'/datenschutz">Datenschutz</a> · <a href="{UNSUBSCRIBE_PLACEHOLDER}">'
            "Newsletter abbestellen</a></p>\n"
        ),
        date=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
    )


def outgoing(target: str, number: int = 1, /, **options: str) -> Outgoing:
    return Outgoing(
        delivery_key=f"delivery:{number}:{target}",
        piece_key="wochenrueckblick/thueringen/2026-11-23",
        kind="newsletter",
        initiative="thueringen",
        target=target,
        files=(Attachment("newsletter.eml", "message/rfc822", piece_eml()),),
        options=options,
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def starttls_sink(ca: trustme.CA) -> Iterator[MailSink]:
    sink = MailSink(
        credentials=("versand", PASSWORD), tls_context=server_context(ca), require_starttls=True
    ).start()
    yield sink
    sink.stop()


@pytest.fixture
def tls_sink(ca: trustme.CA) -> Iterator[MailSink]:
    sink = MailSink(
        credentials=("versand", PASSWORD), ssl_context=server_context(ca), auth_require_tls=False
    ).start()
    yield sink
    sink.stop()


def with_credentials(url: str, password: str = PASSWORD) -> str:
    return url.replace("://", f"://versand:{password}@", 1)


def channel_for(url: str, **kwargs: object) -> SmtpChannel:
    return SmtpChannel(SmtpServer.from_url(url), **kwargs)  # type: ignore[arg-type]


# --- TLS and AUTH ------------------------------------------------------------------------


def test_starttls_with_a_test_ca_from_the_environment_and_auth(
    starttls_sink: MailSink, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPESCHE_SMTP_CA_FILE", str(ca_file))
    channel = SmtpChannel.from_url(with_credentials(starttls_sink.url), settings=Settings())
    with channel.connect() as connection:
        connection.send(outgoing("anna.beispiel@example.org"))
    # The sink refuses MAIL before STARTTLS and AUTH without TLS: both happened.
    assert starttls_sink.logins == [("versand", True)]
    assert [m.rcpt_tos for m in starttls_sink.received()] == [("anna.beispiel@example.org",)]


def test_certificates_are_verified_by_default(starttls_sink: MailSink) -> None:
    channel = channel_for(with_credentials(starttls_sink.url))
    with pytest.raises(TransientError, match="certificate not trusted"), channel.connect():
        pass
    assert starttls_sink.logins == []


def test_implicit_tls_with_auth_plain(tls_sink: MailSink, ca_file: Path) -> None:
    assert tls_sink.url.startswith("smtps://")
    channel = channel_for(with_credentials(tls_sink.url), ca_file=ca_file)
    with channel.connect() as connection:
        connection.send(outgoing("bernd.muster@example.org"))
    assert tls_sink.logins == [("versand", True)]
    assert len(tls_sink.received()) == 1


def test_starttls_required_but_not_offered_is_permanent(mail_sink: MailSink) -> None:
    channel = channel_for(mail_sink.url + "?starttls=required")
    with pytest.raises(TransientError, match="offers no STARTTLS"), channel.connect():
        pass


def test_credentials_are_never_sent_in_clear() -> None:
    sink = MailSink(credentials=("versand", PASSWORD), auth_require_tls=False).start()
    try:
        channel = channel_for(with_credentials(sink.url))
        with pytest.raises(TransientError, match="password in clear") as caught, channel.connect():
            pass
        assert sink.logins == []
        assert PASSWORD not in str(caught.value)
    finally:
        sink.stop()


def error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc.args)


def test_the_password_appears_in_no_error_and_no_repr(
    starttls_sink: MailSink, ca_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    wrong = "falsches-" + PASSWORD
    channel = channel_for(with_credentials(starttls_sink.url, wrong), ca_file=ca_file)
    with pytest.raises(TransientError, match="'versand' refused") as refused, channel.connect():
        pass
    assert starttls_sink.logins and set(starttls_sink.logins) == {("versand", False)}

    closed = with_credentials(f"smtp://127.0.0.1:{free_port()}")
    gone = channel_for(closed)
    with pytest.raises(TransientError, match="unreachable") as unreachable, gone.connect():
        pass

    for text in (
        error_text(refused.value),
        error_text(unreachable.value),
        repr(channel),
        repr(channel.server),
        str(channel.server),
        caplog.text,
    ):
        assert wrong not in text and PASSWORD not in text


# --- headers -------------------------------------------------------------------------------


def test_each_recipient_gets_own_headers_and_no_placeholder(mail_sink: MailSink) -> None:
    channel = SmtpChannel.from_url(mail_sink.url, settings=Settings())
    first = outgoing(
        "anna.beispiel@example.org",
        1,
        unsubscribe_url=UNSUBSCRIBE + "1",
        unsubscribe_mailto="abmelden@thueringen.example.org",
    )
    second = outgoing("bernd.muster@example.org", 2, unsubscribe_url=UNSUBSCRIBE + "2")
    with channel.connect() as connection:
        ids = [connection.send(first), connection.send(second)]

    received = mail_sink.received()
    assert [r.rcpt_tos for r in received] == [(first.target,), (second.target,)]
    assert [r.mail_from for r in received] == ["newsletter@thueringen.example.org"] * 2
    for item, sent, url in zip(received, (first, second), ("1", "2"), strict=True):
        assert b"%%" not in item.data
        message = item.message
        assert message["To"] == sent.target
        assert message["Message-ID"] == message_id(sent.delivery_key, "thueringen.example.org")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Subject"] == SUBJECT
        assert len(message.get_all("Message-ID") or []) == 1
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        plain, rich = text.get_content(), html.get_content()
        assert f"Newsletter abbestellen: {UNSUBSCRIBE}{url}\r\n" in plain
        assert f'<a href="{UNSUBSCRIBE}{url}">Newsletter abbestellen</a>' in rich
        assert "Grüß Gott!" in plain and "Grüß Gott!" in rich
    assert ids == [received[0].message["Message-ID"], received[1].message["Message-ID"]]
    assert received[0].message["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}1>, <mailto:abmelden@thueringen.example.org?subject=unsubscribe>"
    )
    assert received[1].message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}2>"


def test_umlauts_in_headers_are_rfc2047_encoded(mail_sink: MailSink) -> None:
    item = outgoing(
        "juergen.mueller@example.org",
        to_name="Jürgen Müller, IG Metall",
        subject_prefix="[TEST] ",
        **{"header:X-Depesche-Test": "yes"},
    )
    with channel_for(mail_sink.url).connect() as connection:
        connection.send(item)
    (received,) = mail_sink.received()
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert "Thüringen".encode() not in head
    raw_subject = next(
        line
        for line in head.decode().replace("\r\n ", " ").splitlines()
        if line.startswith("Subject:")
    )
    assert "=?utf-8?" in raw_subject
    assert str(make_header(decode_header(raw_subject[len("Subject:") :]))) == "[TEST] " + SUBJECT
    message = received.message
    assert message["Subject"] == "[TEST] " + SUBJECT
    assert message["To"].addresses[0].display_name == "Jürgen Müller, IG Metall"
    assert message["To"].addresses[0].addr_spec == "juergen.mueller@example.org"
    assert message["From"].addresses[0].display_name == "Industriedialog Thüringen"
    assert message["X-Depesche-Test"] == "yes"


def test_without_unsubscribe_url_no_list_headers_and_no_placeholder(mail_sink: MailSink) -> None:
    with channel_for(mail_sink.url).connect() as connection:
        connection.send(outgoing("presse@zeitung.example.org"))
    (received,) = mail_sink.received()
    assert b"%%" not in received.data
    assert received.message["List-Unsubscribe"] is None
    assert received.message["List-Unsubscribe-Post"] is None


def test_bad_options_are_permanent_and_name_the_option() -> None:
    with pytest.raises(PermanentError, match="header:Message-ID"):
        render(outgoing("a@example.org", **{"header:Message-ID": "<x@y>"}))
    with pytest.raises(PermanentError, match="line break"):
        render(outgoing("a@example.org", **{"header:X-Note": "a\r\nBcc: b@example.org"}))
    with pytest.raises(PermanentError, match="unsubscribe_url"):
        render(outgoing("a@example.org", unsubscribe_url="https://x.example.org/u/a b"))


def test_the_piece_is_parsed_once_not_once_per_recipient() -> None:
    compile_piece.cache_clear()
    for number in range(50):
        render(outgoing(f"leser{number}@example.org", number, unsubscribe_url=UNSUBSCRIBE))
    info = compile_piece.cache_info()
    assert (info.misses, info.hits) == (1, 49)


# --- DKIM ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_dkim_signature_covers_the_unsubscribe_headers(
    mail_sink: MailSink, dkim_key: tuple[bytes, bytes]
) -> None:
    private, record = dkim_key
    signer = DkimSigner("depesche2026", "thueringen.example.org", private)
    with channel_for(mail_sink.url, dkim=signer).connect() as connection:
        connection.send(outgoing("anna.beispiel@example.org", unsubscribe_url=UNSUBSCRIBE))
    (received,) = mail_sink.received()
    queried: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        queried.append(name)
        return record

    assert dkim.verify(received.data, dnsfunc=dnsfunc)
    assert queried == [b"depesche2026._domainkey.thueringen.example.org."]
    signed = received.message["DKIM-Signature"].replace(" ", "").replace("\n", "")
    assert "list-unsubscribe:list-unsubscribe-post" in signed.replace("\r", "")
    tampered = received.data.replace(UNSUBSCRIBE.encode(), b"https://evil.example.org/u/x", 1)
    assert tampered != received.data
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
    assert private.decode() not in repr(signer)


def test_dkim_settings_from_the_environment(
    dkim_key: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, _ = dkim_key
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(private)
    monkeypatch.setenv("DEPESCHE_DKIM_KEY", str(key_file))
    monkeypatch.setenv("DEPESCHE_DKIM_SELECTOR", "depesche2026")
    monkeypatch.setenv("DEPESCHE_DKIM_DOMAIN", "thueringen.example.org")
    signer = DkimSigner.from_settings(Settings())
    assert signer is not None and signer.private_key == private
    escaped = private.decode().strip().replace("\n", "\\n")
    assert load_key(escaped) == private
    monkeypatch.delenv("DEPESCHE_DKIM_DOMAIN")
    with pytest.raises(DkimConfigError, match="DEPESCHE_DKIM_DOMAIN"):
        DkimSigner.from_settings(Settings())
    monkeypatch.setenv("DEPESCHE_DKIM_DOMAIN", "thueringen.example.org")
    monkeypatch.setenv("DEPESCHE_DKIM_KEY", "-----BEGIN RSA PRIVATE KEY-----\\nAAAA\\n-----END")
    with pytest.raises(DkimConfigError, match="DEPESCHE_DKIM_KEY") as caught:
        DkimSigner.from_settings(Settings())
    assert "AAAA" not in str(caught.value)


# --- rate limit ----------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_rate_limit_spaces_the_messages_on_one_connection(mail_sink: MailSink) -> None:
    fake = FakeTime()
    channel = channel_for(mail_sink.url + "?rate=4", clock=fake.clock, sleep=fake.sleep)
    with channel.connect() as connection:
        for number in range(5):
            connection.send(outgoing(f"leser{number}@example.org", number))
    assert fake.sleeps == [0.25, 0.25, 0.25, 0.25]
    assert len(mail_sink.received()) == 5


def test_token_bucket_allows_a_burst_then_refills_with_time() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10, burst=3, clock=fake.clock, sleep=fake.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0, 0, 0]
    assert round(bucket.acquire(), 6) == 0.1
    fake.now += 0.25  # two and a half tokens accrue
    assert [round(bucket.acquire(), 6) for _ in range(3)] == [0, 0, 0.05]
    assert fake.sleeps == [0.1, 0.05]


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 Mailbox unavailable", PermanentError),
        ("451 4.3.0 Try again later", TransientError),
    ],
)
def test_a_refused_recipient_does_not_break_the_batch(
    mail_sink: MailSink, reply: str, error: type[Exception]
) -> None:
    mail_sink.reject["weg@example.org"] = reply
    with channel_for(mail_sink.url).connect() as connection:
        connection.send(outgoing("vorher@example.org", 1))
        with pytest.raises(error, match=reply.split()[0]):
            connection.send(outgoing("weg@example.org", 2))
        connection.send(outgoing("nachher@example.org", 3))
        assert connection.opened == 1
    assert [r.rcpt_tos for r in mail_sink.received()] == [
        ("vorher@example.org",),
        ("nachher@example.org",),
    ]


def test_an_invalid_address_is_permanent_and_never_reaches_the_server(
    mail_sink: MailSink,
) -> None:
    with channel_for(mail_sink.url).connect() as connection:
        for target in ("kein-at-zeichen", "a@b@example.org", "x@example.org\r\nBcc: y@example.org"):
            with pytest.raises(PermanentError, match="invalid recipient"):
                connection.send(outgoing(target))
    assert mail_sink.received() == []


def test_an_international_domain_is_sent_in_its_ascii_form(mail_sink: MailSink) -> None:
    with channel_for(mail_sink.url).connect() as connection:
        connection.send(outgoing("info@müller-stahl.example.org", to_name="Müller Stahl"))
        with pytest.raises(PermanentError, match="invalid recipient address"):
            connection.send(outgoing("jürgen@example.org"))
    ascii_form = "info@" + "müller-stahl.example.org".encode("idna").decode()
    assert ascii_form.startswith("info@xn--")
    (received,) = mail_sink.received()
    assert received.rcpt_tos == (ascii_form,)
    assert received.message["To"].addresses[0].addr_spec == ascii_form
    assert received.message["To"].addresses[0].display_name == "Müller Stahl"


def test_421_closes_the_session_and_the_next_send_reopens_it(mail_sink: MailSink) -> None:
    mail_sink.reject["voll@example.org"] = "421 4.7.0 Too many messages, closing"
    with channel_for(mail_sink.url).connect() as connection:
        with pytest.raises(TransientError, match="421"):
            connection.send(outgoing("voll@example.org", 1))
        connection.send(outgoing("danach@example.org", 2))
        assert connection.opened == 2
    assert [r.rcpt_tos for r in mail_sink.received()] == [("danach@example.org",)]


def test_server_gone_mid_batch_then_back(mail_sink: MailSink) -> None:
    with channel_for(mail_sink.url).connect() as connection:
        connection.send(outgoing("eins@example.org", 1))
        mail_sink.stop()
        with pytest.raises(TransientError):
            connection.send(outgoing("zwei@example.org", 2))
        mail_sink.start()
        connection.send(outgoing("zwei@example.org", 2))
        connection.send(outgoing("drei@example.org", 3))
        assert connection.opened == 2
    assert [r.rcpt_tos[0] for r in mail_sink.received()] == [
        "eins@example.org",
        "zwei@example.org",
        "drei@example.org",
    ]


def test_a_restart_between_messages_is_bridged_without_an_error(mail_sink: MailSink) -> None:
    with channel_for(mail_sink.url).connect() as connection:
        connection.send(outgoing("eins@example.org", 1))
        mail_sink.stop()
        mail_sink.start()
        connection.send(outgoing("zwei@example.org", 2))
        assert connection.opened == 2
    assert [r.rcpt_tos[0] for r in mail_sink.received()] == ["eins@example.org", "zwei@example.org"]


def test_a_connection_dropped_during_data_is_transient_and_not_repeated(
    mail_sink: MailSink,
) -> None:
    mail_sink.drop.add("abbruch@example.org")
    with channel_for(mail_sink.url).connect() as connection:
        with pytest.raises(OutcomeUnknown, match="may have accepted"):
            connection.send(outgoing("abbruch@example.org", 1))
        connection.send(outgoing("danach@example.org", 2))
        assert connection.opened == 2
    assert [r.rcpt_tos for r in mail_sink.received()] == [("danach@example.org",)]


# --- configuration -------------------------------------------------------------------------


def test_url_options_and_errors() -> None:
    server = SmtpServer.from_url(f"smtp://versand:{PASSWORD}@mail.example.org:587?rate=20&burst=5")
    assert (server.host, server.port, server.username, server.password) == (
        "mail.example.org",
        587,
        "versand",
        PASSWORD,
    )
    assert (server.rate, server.burst, server.starttls, server.implicit_tls) == (
        20,
        5,
        "auto",
        False,
    )
    assert PASSWORD not in repr(server)
    assert SmtpServer.from_url("smtps://mail.example.org").port == 465
    from_settings = SmtpChannel.from_url("smtp://mail.example.org", settings=Settings(smtp_rate=5))
    assert from_settings.bucket is not None and from_settings.bucket.rate == 5
    url_wins = SmtpChannel.from_url(
        "smtp://mail.example.org?rate=2", settings=Settings(smtp_rate=5)
    )
    assert url_wins.bucket is not None and url_wins.bucket.rate == 2
    assert SmtpChannel.from_url("smtp://mail.example.org", settings=Settings()).bucket is None
    for url, message in [
        ("http://mail.example.org", "must look like"),
        (f"smtp://versand:{PASSWORD}@mail.example.org:abc", "port"),
        (f"smtp://versand:{PASSWORD}@mail.example.org?starttls=maybe", "starttls"),
        (f"smtp://versand:{PASSWORD}@mail.example.org?rate=-1", "rate"),
        (f"smtp://versand:{PASSWORD}@mail.example.org?pasword=x", "unknown option"),
    ]:
        with pytest.raises(ValueError, match=message) as caught:
            SmtpServer.from_url(url)
        assert PASSWORD not in str(caught.value)
