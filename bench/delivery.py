"""Delivery throughput: 10,000 digest mails through the engine against raw smtplib.

Both sides send the same 10,000 messages (one digest ``.eml``, personalised per recipient: To,
Message-ID, List-Unsubscribe) to aiosmtpd on loopback, each over one persistent SMTP connection:

- engine: ``workers.delivery.release`` on a fresh SQLite database holding the 10,000 routed
  deliveries: claim in chunks (``sending`` committed before anything leaves), personalise
  through the SMTP channel, send, record ``sent`` with the Message-ID and a
  ``delivery.succeeded`` event per mail, settle the piece;
- raw: ``smtplib.SMTP.sendmail`` with the very bytes the engine sends, prepared beforehand.

The sink runs in its own process, so its work does not share this process's GIL; it only counts.
Timings depend on the machine; only the ratio within one run means something (target: the
engine reaches at least half the raw rate). Run with ``.venv/bin/python bench/delivery.py
[--messages N] [--chunk N] [--rounds N]``; raw and engine passes alternate, best of each.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import shutil
import smtplib
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from campaigns.workspace import load_workspace  # noqa: E402
from config.db import dispose_engines, get_engine, session_scope  # noqa: E402
from config.migrate import upgrade  # noqa: E402
from config.settings import Settings  # noqa: E402
from content.email_message import UNSUBSCRIBE_PLACEHOLDER, build_eml  # noqa: E402
from content.models import Piece, PieceFile  # noqa: E402
from workers.channels.base import Attachment, Outgoing  # noqa: E402
from workers.channels.smtp import SmtpChannel  # noqa: E402
from workers.channels.smtp_message import render  # noqa: E402
from workers.delivery import Channels, release  # noqa: E402
from workers.models import Delivery  # noqa: E402
from workers.recipients import Recipient  # noqa: E402
from workers.routing import route_approved  # noqa: E402

WORKSPACE = ROOT / "examples" / "zukunft-der-industrie"
NOW = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
KEY = "wochenrueckblick/digest/20261116T0700Z/krefeld/newsletter"
SENDER = "newsletter@krefeld.example.org"


# --- the sink, in its own process ---------------------------------------------------------------


def _serve(port: int, count: Synchronized[int], ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port, data_size_limit=None)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


@contextmanager
def sink() -> Iterator[tuple[int, Synchronized[int]]]:
    from tests.services import free_port

    port = free_port()
    context = multiprocessing.get_context("spawn")
    count: Synchronized[int] = context.Value("i", 0)
    ready, stop = context.Event(), context.Event()
    process = context.Process(target=_serve, args=(port, count, ready, stop), daemon=True)
    process.start()
    ready.wait(30)
    try:
        yield port, count
    finally:
        stop.set()
        process.join(10)


# --- the messages -------------------------------------------------------------------------------


def digest_eml() -> bytes:
    """A digest of realistic size (about 30 KiB): twelve teasers in sections and a footer,
    one element per line as the templates render them (so the line holding the unsubscribe
    link is short, as in a composed digest)."""
    teaser = (
        "Die Industrieinitiative Krefeld und ihre Partner aus Unternehmen, Betriebsräten, Kammern "
        "und Gewerkschaften berichten über den Wasserstoff-Hub am Rhein, neue Ausbildungsplätze "
        "in der Metallverarbeitung und die Genehmigung einer Elektrolyseanlage im Chempark. "
    )
    sections = []
    text_parts = []
    for n in range(12):
        sections.append(
            f'<tr><td style="padding:16px 24px;font-family:Arial,sans-serif;font-size:16px;'
            f'line-height:1.5;color:#1a1a1a"><h2 style="margin:0 0 8px;font-size:20px;'
            f'color:#004b87">Meldung {n + 1}: Wasserstoff-Hub Krefeld startet</h2>'
            f'<p style="margin:0 0 8px">{teaser * 3}</p><p style="margin:0"><a '
            f'href="https://krefeld.example.org/meldung/{n}?utm_source=newsletter" '
            f'style="color:#004b87">Weiterlesen</a> · Quelle: Westdeutsche Beispielzeitung, '
            f"20.11.2026</p></td></tr>\n"
        )
        text_parts.append(f"Meldung {n + 1}: Wasserstoff-Hub Krefeld startet\n\n{teaser * 3}")
    html = (
        '<!doctype html>\n<html lang="de">\n<body style="margin:0;background:#f4f4f4">\n'
        '<table role="presentation" width="100%" style="max-width:640px;margin:0 auto;'
        f'background:#ffffff">\n{"".join(sections)}<tr><td style="padding:24px;font-size:12px">'
        f'\n<a href="{UNSUBSCRIBE_PLACEHOLDER}">Newsletter abbestellen</a>\n</td></tr></table>\n'
        "</body>\n</html>\n"
    )
    text = "\n\n".join(text_parts) + f"\n\nNewsletter abbestellen: {UNSUBSCRIBE_PLACEHOLDER}\n"
    return build_eml(
        key=KEY,
        sender_name="Industrieinitiative Krefeld",
        sender_email=SENDER,
        reply_to="presse@krefeld.example.org",
        subject="KW 47: Wasserstoff-Hub Krefeld startet",
        preheader="Ausbildung, Genehmigungen und Termine aus der Region Krefeld",
        text=text,
        html=html,
        date=NOW,
    )


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            address=f"leser{n}@example.org",
            name=f"Leserin {n}",
            ref=f"subscriber:{n}",
            unsubscribe_url=f"https://depesche.example.org/u/token-{n:06d}",
        )
        for n in range(count)
    ]


class Lists:
    def __init__(self, people: list[Recipient]) -> None:
        self.people = people

    def email_recipients(self, session: Any, initiative: str, audience: str | None) -> list[Any]:
        return self.people

    def press_recipients(self, session: Any, initiative: str) -> list[Any]:
        return []

    def is_suppressed(self, session: Any, address: str) -> bool:
        return False

    def suppressed_among(self, session: Any, addresses: list[str]) -> set[str]:
        return set()


# --- the two sides ------------------------------------------------------------------------------


def prepare_database(tmp: Path, workspace: Path, eml: bytes, lists: Lists) -> tuple[str, float]:
    """A fresh database with the digest approved and routed to every recipient (not timed)."""
    url = f"sqlite:///{tmp / 'delivery.db'}"
    upgrade(url)
    ws = load_workspace(workspace)
    started = time.perf_counter()
    with session_scope(url) as session:
        piece = Piece(
            key=KEY,
            slot_key=KEY.rsplit("/", 2)[0],
            initiative="krefeld",
            campaign="wochenrueckblick",
            deliverable="digest",
            kind="newsletter",
            state="approved",
            provenance={"items": [], "audience": None},
            created_at=NOW,
            files=[PieceFile(name="digest.eml", media_type="message/rfc822", content=eml,
                             sha256="0" * 64)],
        )  # fmt: skip
        session.add(piece)
        session.flush()
        routed = route_approved(session, ws, lists, now=NOW)
    assert routed[0].created == len(lists.people), routed
    return url, time.perf_counter() - started


def with_email_channel(tmp: Path) -> Path:
    workspace = tmp / "workspace"
    shutil.copytree(WORKSPACE, workspace, ignore=shutil.ignore_patterns("var", "out"))
    path = workspace / "campaigns" / "wochenrueckblick.yaml"
    text = path.read_text()
    anchor = "  - id: digest\n    kind: newsletter\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + "    channels: [folder, email]\n"))
    return workspace


def engine_pass(url: str, workspace: Path, port: int, chunk: int) -> tuple[float, float]:
    channels = Channels(mail=SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", settings=Settings()))
    ws = load_workspace(workspace)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    report = release(url, ws, channels, clock=lambda: NOW, chunk=chunk, recipients=Lists([]))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with session_scope(url) as session:
        sent = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        )
    assert report.sent == sent, (report, sent)
    return wall, cpu


def raw_messages(eml: bytes, people: list[Recipient]) -> list[tuple[str, bytes]]:
    """The bytes the engine sends each recipient, made beforehand: raw only transfers them."""
    files = (Attachment("digest.eml", "message/rfc822", eml),)
    out = []
    for person in people:
        outgoing = Outgoing(
            delivery_key=f"{KEY}|email|{person.ref}",
            piece_key=KEY,
            kind="newsletter",
            initiative="krefeld",
            target=person.address,
            files=files,
            options={"unsubscribe_url": person.unsubscribe_url or ""},
        )
        out.append((person.address, render(outgoing).data))
    return out


def raw_pass(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    client = smtplib.SMTP("127.0.0.1", port)
    for address, data in messages:
        client.sendmail(SENDER, [address], data)
    client.quit()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=200, help="deliveries per commit")
    parser.add_argument("--rounds", type=int, default=2, help="raw and engine passes, alternated")
    args = parser.parse_args()
    n = args.messages
    eml = digest_eml()
    people = recipients(n)
    lists = Lists(people)
    raw: list[tuple[float, float]] = []
    engine: list[tuple[float, float]] = []
    routing: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="depesche-bench-delivery-") as name,
        sink() as (port, count),
    ):
        tmp = Path(name)
        workspace = with_email_channel(tmp)
        messages = raw_messages(eml, people)
        for round_ in range(args.rounds):
            # Alternating passes share the machine's ups and downs; the best of each counts.
            before = count.value
            raw.append(raw_pass(port, messages))
            assert count.value - before == n, "raw: the sink did not get every message"
            folder = tmp / f"round{round_}"
            folder.mkdir()
            url, seconds = prepare_database(folder, workspace, eml, lists)
            routing.append(seconds)
            before = count.value
            engine.append(engine_pass(url, workspace, port, args.chunk))
            assert count.value - before == n, "engine: the sink did not get every message"
            get_engine(url).dispose()
            dispose_engines()
    size = sum(len(data) for _, data in messages) / n
    raw_wall, raw_cpu = min(w for w, _ in raw), min(c for _, c in raw)
    engine_wall, engine_cpu = min(w for w, _ in engine), min(c for _, c in engine)
    print(
        f"{n:,} digest mails of {size / 1024:.1f} KiB each to aiosmtpd (own process), "
        f"best of {args.rounds} alternated passes, {args.chunk} deliveries per commit"
    )
    print(f"routing (not timed below): {n / min(routing):,.0f} deliveries/s created")
    print(
        f"engine  {n / engine_wall:8,.0f} msg/s wall  ({engine_wall:.2f} s, CPU {engine_cpu:.2f} s)"
    )
    print(f"raw     {n / raw_wall:8,.0f} msg/s wall  ({raw_wall:.2f} s, CPU {raw_cpu:.2f} s)")
    print(f"ratio engine/raw: {raw_wall / engine_wall:.2f} wall (target: at least 0.5)")
    # This process's CPU only (the sink is elsewhere): steadier than wall on a busy machine.
    print(f"ratio engine/raw: {raw_cpu / engine_cpu:.2f} CPU of this process")


if __name__ == "__main__":
    main()
