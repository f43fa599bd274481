"""The SMTP channel against raw smtplib: 10,000 digest e-mails to aiosmtpd over one connection.

The channel renders every message for its recipient (``To``, Message-ID, ``List-Unsubscribe``
and the unsubscribe link in the body) from a piece parsed once, optionally DKIM-signs it, and
sends it; raw smtplib sends the piece's finished ``.eml`` bytes as they are. Both talk to the
same aiosmtpd, which runs in a child process (``python -m aiosmtpd`` with the discarding Sink
handler) so that the server does not share this process's GIL.

Printed: messages per second of each pass and the ratio channel / raw (target at least 0.5),
plus the channel with DKIM (RSA 2048, dkimpy; over ``--dkim-messages``, as dkimpy's pure-Python
RSA makes it slow) for information. Timings depend on the machine;
only the ratios within one run mean something. Run with
``.venv/bin/python bench/smtp_channel.py [--messages N] [--eml PATH]``.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import email.utils
import gc
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workers.channels.base import Attachment, Outgoing
from workers.channels.dkim import DkimSigner
from workers.channels.smtp import SmtpChannel, SmtpServer
from workers.channels.smtp_message import compile_piece

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EML = (
    ROOT
    / "examples/zukunft-der-industrie/out/thueringen/wochenrueckblick/digest-20261019T0600Z"
    / "newsletter.eml"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SINK = "aiosmtpd.handlers.Sink"  # accepts and discards


def start_server(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("aiosmtpd did not start")


def batch(eml: bytes, count: int) -> list[Outgoing]:
    files = (Attachment("newsletter.eml", "message/rfc822", eml),)
    return [
        Outgoing(
            delivery_key=f"bench:{number}",
            piece_key="bench/thueringen/digest",
            kind="newsletter",
            initiative="thueringen",
            target=f"leser{number}@example.org",
            files=files,
            options={"unsubscribe_url": f"https://depesche.example.org/u/token{number:08d}"},
        )
        for number in range(count)
    ]


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall-clock seconds and this process's CPU seconds (the client's own work)."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--dkim-messages", type=int, default=1_000)
    parser.add_argument("--eml", type=Path, default=DEFAULT_EML)
    args = parser.parse_args()
    eml = args.eml.read_bytes()
    parsed = email.message_from_bytes(eml, policy=email.policy.SMTP)
    sender = email.utils.parseaddr(str(parsed["From"]))[1]
    n = args.messages
    outgoing = batch(eml, n)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )

    port = free_port()
    server = start_server(port)
    try:

        def raw() -> None:
            client = smtplib.SMTP("127.0.0.1", port)
            for item in outgoing:
                client.sendmail(sender, [item.target], eml)
            client.quit()

        def channel(dkim: DkimSigner | None, count: int) -> Callable[[], None]:
            def run() -> None:
                compile_piece.cache_clear()  # the piece's one parse counts
                smtp = SmtpChannel(SmtpServer.from_url(f"smtp://127.0.0.1:{port}"), dkim=dkim)
                with smtp.connect() as connection:
                    for item in outgoing[:count]:
                        connection.send(item)

            return run

        signer = DkimSigner("bench", "thueringen.example.org", pem)
        raw_seconds, raw_cpu = min(timed(raw), timed(raw))
        channel_seconds, channel_cpu = min(timed(channel(None, n)), timed(channel(None, n)))
        dkim_n = min(n, args.dkim_messages)
        dkim_seconds, dkim_cpu = timed(channel(signer, dkim_n))
    finally:
        server.terminate()
        server.wait()

    print(f"{n} messages of {len(eml)} bytes to aiosmtpd over one connection")
    rows = [
        ("raw smtplib", n, raw_seconds, raw_cpu),
        ("SmtpChannel", n, channel_seconds, channel_cpu),
        ("SmtpChannel + DKIM", dkim_n, dkim_seconds, dkim_cpu),
    ]
    for name, count, seconds, cpu in rows:
        print(
            f"{name:<19}{count / seconds:8.0f} msg/s   client CPU {cpu / count * 1000:6.2f} ms/msg"
            f"   ({count} messages)"
        )
    raw_rate, channel_rate = n / raw_seconds, n / channel_seconds
    print(f"ratio channel / raw smtplib: {channel_rate / raw_rate:.2f} (target >= 0.5)")
    print(f"ratio channel+DKIM / raw smtplib: {dkim_n / dkim_seconds / raw_rate:.2f}")


if __name__ == "__main__":
    main()
