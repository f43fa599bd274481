"""Feed ingestion on loopback: Depesche against default feedparser and against rss2email 3.14.

200 generated feeds of 50 distinct German items each are served from 20 addresses
(127.0.0.1 … 127.0.0.20, which Linux routes to loopback without set-up), ten feeds per address,
as feeds on the web come from many hosts, by a server process of its own. The servers answer
conditional GETs with 304. Items are shaped as WordPress writes them, the commonest feeds on the
web: a plain excerpt in ``description`` and the article as HTML in ``content:encoded``
(``--shape teaser`` serves a short HTML teaser only, where feedparser has less to sanitise).

Measured, in one run (only the ratios within one run mean something):

1. cold pass: ``content.ingest.ingest`` of all feeds into a fresh SQLite database (fetch, parse,
   normalise, sanitise, de-duplicate, store), items per second, against ``feedparser.parse``
   with default options alone on the very same bytes (target: at least 1.5x);
2. warm pass: the same ingest again, every feed answering 304, feeds per second;
3. the peer: rss2email 3.14 from PyPI in its own virtualenv under this run's temporary folder,
   ``r2e run --no-send`` cold and warm on the same servers (target: our warm pass at least 2x
   its warm pass).

Everything lives in a temporary folder that is removed at the end; the servers are stopped and
every child process has a time limit, so the run ends by itself. Nothing but loopback is
contacted, except PyPI by pip to install the peer (``--no-peer`` skips it). Run with
``.venv/bin/python bench/feeds.py``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import html
import io
import logging
import multiprocessing
import os
import random
import subprocess
import tempfile
import threading
import time
import venv
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
from rich.console import Console
from rich.table import Table

from campaigns.schema import Feed, FetchSection
from config.db import get_engine
from config.migrate import upgrade
from content.ingest import ingest

NOW = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)
PEER = "rss2email==3.14"
PEER_TIMEOUT = 900  # seconds for one r2e run; a peer that hangs must not hang the bench
console = Console()


# --- generated feeds ----------------------------------------------------------------------------

PLACES = [
    "Krefeld", "Erfurt", "Jena", "Koblenz", "Neuwied", "Mayen", "Frankfurt am Main", "Münster",
    "Stuttgart", "Esslingen", "Mannheim", "Ulm", "Gera", "Suhl", "Bocholt", "Rheine", "Marl",
    "Uerdingen", "Andernach", "Heilbronn", "Reutlingen", "Eisenach", "Gotha", "Offenbach",
]  # fmt: skip
ACTORS = [
    "Betriebsrat", "IG Metall", "IG BCE", "Arbeitgeberverband", "Handwerkskammer", "IHK",
    "Landesregierung", "Wirtschaftsministerium", "Stadtwerke", "Hochschule", "Zulieferer",
    "Maschinenbauer", "Chemiepark", "Gießerei", "Stahlwerk", "Optikhersteller", "Werft",
]  # fmt: skip
TOPICS = [
    "Wasserstoff", "Fachkräfte", "Ausbildung", "Weiterbildung", "Tarifbindung", "Energiepreise",
    "Netzausbau", "Elektromobilität", "Kreislaufwirtschaft", "Digitalisierung", "Mitbestimmung",
    "Genehmigungen", "Batterietechnik", "Photonik", "Mikroelektronik", "Recycling", "Logistik",
]  # fmt: skip
VERBS = [
    "startet", "erweitert", "fordert", "eröffnet", "plant", "vereinbart", "investiert in",
    "stellt vor", "sucht", "fördert", "beschließt", "kündigt an", "testet", "baut aus",
]  # fmt: skip
NOUNS = [
    "Projekt", "Programm", "Werk", "Anlage", "Verbund", "Initiative", "Studie", "Zentrum",
    "Lehrwerkstatt", "Fertigungslinie", "Vereinbarung", "Beratung", "Netzwerk", "Fonds",
]  # fmt: skip
FILLER = [
    "Die Beschäftigten sollen frühzeitig beteiligt werden",
    "Der Betriebsrat begleitet die Umsetzung",
    "Weitere Informationen gibt es bei der Initiative",
    "Die Kosten teilen sich Land und Unternehmen",
    "Erste Ergebnisse werden im Frühjahr erwartet",
    "Gewerkschaften und Verbände begrüßen das Vorhaben ausdrücklich.",
]


@dataclass(frozen=True)
class Served:
    body: bytes
    etag: str


SHAPES = ("wordpress", "teaser")


def generate(
    feeds: int, items: int, shape: str = "wordpress", seed: int = 2026
) -> dict[str, Served]:
    """``feeds`` RSS 2.0 documents of ``items`` distinct items each, keyed by path."""
    rng = random.Random(seed)
    make = _wordpress_item if shape == "wordpress" else _teaser_item
    documents: dict[str, Served] = {}
    for number in range(feeds):
        entries = [make(rng, number, position) for position in range(items)]
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Meldungen {number:03d}</title><link>https://quelle{number:03d}.example.org/</link>"
            f"<description>Regionale Industriemeldungen</description>{''.join(entries)}"
            "</channel></rss>"
        ).encode()
        documents[f"/feeds/{number:03d}.xml"] = Served(
            body, f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        )
    return documents


def _teaser_item(rng: random.Random, feed: int, position: int) -> str:
    """An item with a short HTML teaser in ``description`` and no full text."""
    place, actor, topic = rng.choice(PLACES), rng.choice(ACTORS), rng.choice(TOPICS)
    title = f"{place}: {actor} {rng.choice(VERBS)} {rng.choice(NOUNS)} für {topic}"
    summary = (
        f"<p>In {place} hat {actor} ein Vorhaben zu <strong>{topic}</strong> vorgestellt, "
        f"Nummer {feed}-{position}. {'. '.join(rng.sample(FILLER, 3))}.</p>"
        f'<p>Mehr dazu im <a href="/meldungen/{feed}/{position}">Bericht</a> und unter '
        f'<a href="https://quelle{feed:03d}.example.org/themen/{topic.lower()}">{topic}</a>.</p>'
    )
    published = NOW - timedelta(hours=position * 3 + feed % 7, minutes=feed)
    return (
        f"<item><guid isPermaLink='false'>q{feed:03d}-{position}</guid>"
        f"<link>https://quelle{feed:03d}.example.org/meldungen/{position}</link>"
        f"<title>{html.escape(title)}</title><description>{html.escape(summary)}</description>"
        f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
        f"<category>{topic}</category></item>"
    )


def _wordpress_item(rng: random.Random, feed: int, position: int) -> str:
    """An item shaped like a WordPress feed's, the commonest on the web: a plain-text excerpt in
    ``description``, the whole article as HTML in ``content:encoded``."""
    place, actor, topic = rng.choice(PLACES), rng.choice(ACTORS), rng.choice(TOPICS)
    figure = rng.randint(3, 900)
    title = (
        f"{place}: {actor} {rng.choice(VERBS)} {rng.choice(NOUNS)} für {topic} "
        f"({figure} {rng.choice(['Stellen', 'Betriebe', 'Millionen Euro', 'Teilnehmende'])})"
    )
    lead = (
        f"In {place} hat {actor} am {rng.randint(1, 28)}. des Monats ein Vorhaben zu {topic} "
        f"vorgestellt, Nummer {feed}-{position}. {'. '.join(rng.sample(FILLER, 2))}."
    )
    paragraphs = "".join(
        f"<p>{'. '.join(rng.sample(FILLER, 3))}. Dazu <em>{rng.choice(ACTORS)}</em> aus "
        f"{rng.choice(PLACES)}: <q>{rng.choice(FILLER)}.</q></p>"
        for _ in range(4)
    )
    content = (
        f"<p><strong>{html.escape(lead)}</strong></p>{paragraphs}"
        f'<figure><img src="/bilder/{feed}-{position}.jpg" alt="{topic}" width="800" '
        f'height="450"><figcaption>Foto: {actor}</figcaption></figure>'
        f"<ul><li>{topic}</li><li>{rng.choice(TOPICS)}</li><li>{rng.choice(TOPICS)}</li></ul>"
        f'<p>Mehr dazu im <a href="/meldungen/{feed}/{position}">Bericht</a>, bei der '
        f'<a href="https://quelle{feed:03d}.example.org/themen/{topic.lower()}">{topic}-Seite</a>'
        f' und im <a href="https://quelle{feed:03d}.example.org/termine/">Kalender</a>.</p>'
    )
    published = NOW - timedelta(hours=position * 3 + feed % 7, minutes=feed)
    link = f"https://quelle{feed:03d}.example.org/meldungen/{position}?utm_source=rss"
    return (
        f"<item><guid isPermaLink='false'>q{feed:03d}-{position}</guid><link>{link}</link>"
        f"<title>{html.escape(title)}</title>"
        f"<description>{html.escape(lead)} […]</description>"
        f"<content:encoded><![CDATA[{content}]]></content:encoded>"
        f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
        f"<category>{topic}</category></item>"
    )


# --- loopback servers ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        served = self.server.documents.get(self.path.split("?", 1)[0])
        if served is None:
            self.send_error(404)
            return
        if self.headers.get("If-None-Match") == served.etag:
            self.send_response(304)
            self.send_header("ETag", served.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("ETag", served.etag)
        self.send_header("Content-Length", str(len(served.body)))
        self.end_headers()
        self.wfile.write(served.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    documents: dict[str, Served]


@contextmanager
def servers(hosts: int, feeds: int, items: int, shape: str) -> Iterator[tuple[list[str], int]]:
    """A child process serving every feed from 127.0.0.1 … 127.0.0.<hosts>, all on one port.

    A process of its own, so that answering requests takes no time from the process measured
    (threads of one process share one interpreter lock).
    """
    context = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[int | str] = context.Queue()
    stop = context.Event()
    child = context.Process(
        target=_serve, args=(hosts, feeds, items, shape, ready, stop), name="bench-feed-servers"
    )
    child.start()
    try:
        answer = ready.get(timeout=120)
        if isinstance(answer, str):
            raise SystemExit(f"feed servers failed to start: {answer}")
        yield [f"127.0.0.{number}" for number in range(1, hosts + 1)], answer
    finally:
        stop.set()
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
            child.join(timeout=5)


def _serve(hosts: int, feeds: int, items: int, shape: str, ready: Any, stop: Any) -> None:
    """In the child: start the servers, report the port, serve until told to stop."""
    documents = generate(feeds, items, shape)
    try:
        with ExitStack() as stack:
            first = _start(stack, "127.0.0.1", 0, documents)
            port = int(first.server_address[1])
            for number in range(2, hosts + 1):
                _start(stack, f"127.0.0.{number}", port, documents)
            ready.put(port)
            stop.wait(timeout=3600)
    except OSError as exc:
        ready.put(str(exc))


def _start(stack: ExitStack, host: str, port: int, documents: dict[str, Served]) -> _Server:
    server = _Server((host, port), _Handler)
    server.documents = documents
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    stack.callback(stop)
    return server


def feed_urls(documents: dict[str, Served], hosts: list[str], port: int) -> list[str]:
    return [
        f"http://{hosts[number % len(hosts)]}:{port}{path}"
        for number, path in enumerate(sorted(documents))
    ]


# --- the passes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    seconds: float
    feeds: int
    items: int
    statuses: dict[str, int]


def depesche_passes(urls: list[str], tmp: Path, hosts: int) -> tuple[Pass, Pass]:
    database = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(database)
    feeds = [Feed(id=f"f{number:03d}", url=url) for number, url in enumerate(urls)]
    fetch = FetchSection(allow_networks=[f"127.0.0.{number}/32" for number in range(1, hosts + 1)])
    passes = []
    for at in (NOW, NOW + timedelta(hours=1)):
        gc.collect()
        started = time.perf_counter()
        outcomes = ingest(database, feeds, base_dir=tmp, now=at, fetch=fetch)
        seconds = time.perf_counter() - started
        statuses: dict[str, int] = {}
        for outcome in outcomes:
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        failed = [o for o in outcomes if o.status == "error"]
        if failed:
            raise SystemExit(f"ingest failed: {failed[0].error}")
        passes.append(Pass(seconds, len(outcomes), sum(len(o.new) for o in outcomes), statuses))
    get_engine(database).dispose()
    return passes[0], passes[1]


def feedparser_pass(documents: dict[str, Served]) -> Pass:
    """feedparser with default options on the same bytes, handed in as streams."""
    gc.collect()
    items = 0
    started = time.perf_counter()
    for served in documents.values():
        items += len(feedparser.parse(io.BytesIO(served.body)).entries)
    return Pass(time.perf_counter() - started, len(documents), items, {})


def peer_passes(urls: list[str], tmp: Path) -> tuple[Pass, Pass] | str:
    """rss2email 3.14 in a virtualenv of its own: ``r2e run --no-send``, cold then warm."""
    home = tmp / "rss2email"
    environment = home / "venv"
    console.print(f"installing {PEER} into {environment} …")
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", PEER],
        capture_output=True,
        text=True,
        timeout=PEER_TIMEOUT,
    )
    if installed.returncode != 0:
        return f"could not install {PEER}: {installed.stderr.strip()[-300:]}"
    r2e = [
        str(environment / "bin" / "r2e"),
        "-c",
        str(home / "r2e.cfg"),
        "-d",
        str(home / "data.json"),
    ]
    opml = home / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="1.0"><body>'
        + "".join(f'<outline type="rss" text="f{n:03d}" xmlUrl="{u}"/>' for n, u in enumerate(urls))
        + "</body></opml>",
        encoding="utf-8",
    )
    for command in (["new", "bench@example.org"], ["opmlimport", str(opml)]):
        done = subprocess.run([*r2e, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            return f"r2e {command[0]} failed: {done.stderr.strip()[-300:]}"
    passes = []
    for _ in ("cold", "warm"):
        started = time.perf_counter()
        done = subprocess.run(
            [*r2e, "run", "--no-send"], capture_output=True, text=True, timeout=PEER_TIMEOUT
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            return f"r2e run failed: {done.stderr.strip()[-300:]}"
        passes.append(Pass(seconds, len(urls), 0, {}))
    return passes[0], passes[1]


# --- report -------------------------------------------------------------------------------------


def report(
    cold: Pass,
    warm: Pass,
    raw: Pass,
    peer: tuple[Pass, Pass] | str,
    feeds: int,
    items: int,
    shape: str,
) -> None:
    table = Table(
        title=f"Feed ingestion on loopback: {feeds} feeds × {items} {shape} items, 20 hosts"
    )
    table.add_column("pass")
    table.add_column("seconds", justify="right")
    table.add_column("rate", justify="right")
    table.add_row(
        "depesche cold (fetch, parse, sanitise, dedupe, store)",
        f"{cold.seconds:.2f}",
        f"{cold.items / cold.seconds:,.0f} items/s",
    )
    table.add_row(
        "feedparser.parse, defaults, same bytes",
        f"{raw.seconds:.2f}",
        f"{raw.items / raw.seconds:,.0f} items/s",
    )
    table.add_row(
        "depesche warm (all 304)",
        f"{warm.seconds:.2f}",
        f"{warm.feeds / warm.seconds:,.0f} feeds/s",
    )
    if isinstance(peer, tuple):
        table.add_row(
            "rss2email 3.14 cold (r2e run --no-send)",
            f"{peer[0].seconds:.2f}",
            f"{peer[0].feeds / peer[0].seconds:,.1f} feeds/s",
        )
        table.add_row(
            "rss2email 3.14 warm (r2e run --no-send)",
            f"{peer[1].seconds:.2f}",
            f"{peer[1].feeds / peer[1].seconds:,.1f} feeds/s",
        )
    console.print(table)
    cold_ratio = (cold.items / cold.seconds) / (raw.items / raw.seconds)
    console.print(
        f"cold: {cold_ratio:.2f}x default feedparser's items/s (target ≥ 1.5x); "
        f"statuses {cold.statuses}, {cold.items} new items"
    )
    if isinstance(peer, tuple):
        console.print(
            f"warm: {(warm.feeds / warm.seconds) / (peer[1].feeds / peer[1].seconds):.2f}x "
            f"rss2email's warm feeds/s (target ≥ 2x); "
            f"cold: {(cold.feeds / cold.seconds) / (peer[0].feeds / peer[0].seconds):.2f}x "
            "rss2email's cold feeds/s"
        )
    else:
        console.print(f"peer skipped: {peer}")
    console.print(f"warm statuses {warm.statuses}")
    # Ratios hold only on a quiet machine: on shared cores, each pass gets what others leave.
    one, five, fifteen = os.getloadavg()
    console.print(f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20, choices=range(1, 21))
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="wordpress",
        help="items as WordPress writes them (excerpt plus full HTML) or an HTML teaser only",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip rss2email")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    documents = generate(args.feeds, args.items, args.shape)
    with tempfile.TemporaryDirectory(prefix="depesche-bench-feeds-") as folder:
        tmp = Path(folder)
        with servers(args.hosts, args.feeds, args.items, args.shape) as (hosts, port):
            urls = feed_urls(documents, hosts, port)
            console.print(f"serving {len(urls)} feeds from {hosts[0]} … {hosts[-1]} port {port}")
            cold, warm = depesche_passes(urls, tmp, args.hosts)
            raw = feedparser_pass(documents)
            peer = "skipped (--no-peer)" if args.no_peer else peer_passes(urls, tmp)
        report(cold, warm, raw, peer, args.feeds, args.items, args.shape)


if __name__ == "__main__":
    main()
