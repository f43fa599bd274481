"""Digest assembly at network scale: 1,000 generated initiatives, 5,000 generated items.

Measures pieces per second of the engine's composer path (``compose_newsletter``: selection and
ranking, sections, „Aus dem Netzwerk“, Termine as .ics, sandboxed rendering of HTML and text, CSS
inlining, the complete .eml) against raw Jinja2 plus css-inline rendering the very same template
contexts, and prints the ratio. Target: the engine adds at most 50 % on top of the raw libraries.

Everything is generated in memory from a fixed seed (no database, no network); the initiatives
use the built-in templates. Each timed engine pass starts as a worker starts a new slot: the
caches of slot data (item pool, teasers, links, calendar lines, folded headers) are emptied
first, so a pass measures work, not the previous pass's cache hits; compiled templates stay, as
they do in a worker. The raw side renders the contexts the engine built, with the same templates
and the same Jinja2 options, and inlines the same HTML: it is what the engine cannot do without.

Timings depend on the machine and its load (printed beside them); only the ratio within one run
means something. Run with ``.venv/bin/python bench/digests.py [--initiatives N] [--items N]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from campaigns.schema import Campaign, Initiative, NewsletterDeliverable
from content.caches import forget_slot_data
from content.composers import newsletter
from content.composers.base import CompositionInput
from content.selection import Candidate

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_TEMPLATES = ROOT / "content" / "templates"
DUE = datetime(2026, 11, 16, 7, tzinfo=UTC)
SEED = 20261116
REPEATS = 5

TOPICS = [
    "Transformation", "Strukturwandel", "Dekarbonisierung", "Wasserstoffhochlauf", "Strompreis",
    "Fachkräftesicherung", "Qualifizierung", "Tarifbindung", "Mitbestimmung", "Standortsicherung",
    "Wertschöpfung", "Industrieakzeptanz", "Digitalisierung", "KI in der Produktion",
    "Kreislaufwirtschaft", "Genehmigungsbeschleunigung",
]  # fmt: skip
KEYWORDS = [
    "Wasserstoff", "Chemie", "Maschinenbau", "Zulieferer", "Edelstahl", "Photonik", "Optik",
    "Halbleiter", "Batterie", "Gießerei", "Metallverarbeitung", "Kunststoff", "Rezyklat", "Pharma",
    "Rechenzentren", "Werkzeugmaschinen", "Automobilindustrie", "Mikroelektronik", "Glas",
    "Papier", "Stahl", "Logistik", "Hafen", "Ausbildung", "Betriebsrat", "IG Metall", "IG BCE",
    "IHK", "Handwerkskammer", "Mittelstand", "Unternehmensnachfolge", "Netzentgelte",
    "Elektrolyseur", "Wärmepumpe", "Abwärme", "Genehmigung", "Investition", "Weiterbildung",
]  # fmt: skip
PLACES = [
    "Krefeld", "Jena", "Erfurt", "Koblenz", "Neuwied", "Münster", "Marl", "Stuttgart", "Esslingen",
    "Heilbronn", "Frankfurt am Main", "Kassel", "Leuna", "Bitterfeld", "Ludwigshafen", "Mannheim",
    "Saarbrücken", "Emden", "Wilhelmshaven", "Rostock", "Chemnitz", "Zwickau", "Dresden",
    "Magdeburg", "Salzgitter", "Wolfsburg", "Bremen", "Duisburg", "Dortmund", "Bochum",
    "Gelsenkirchen", "Aachen", "Siegen", "Paderborn", "Bielefeld", "Osnabrück", "Regensburg",
    "Ingolstadt", "Augsburg", "Schweinfurt",
]  # fmt: skip
VERBS = ["startet", "plant", "eröffnet", "erweitert", "stellt vor", "berät über", "investiert in"]
ORGS = ["Betriebe", "Sozialpartner", "Wirtschaftsförderung", "Transformationsnetzwerk", "Kammer"]


def initiative(n: int, rng: random.Random) -> Initiative:
    slug = f"initiative-{n:04d}"
    place = rng.choice(PLACES)
    keywords = [{word: rng.choice([1, 1, 2, 3])} for word in rng.sample(KEYWORDS, 7)]
    return Initiative.model_validate(
        {
            "slug": slug,
            "name": f"Industrieinitiative {place} {n}",
            "level": rng.choice(["Land", "Region", "Kommune"]),
            "region": place,
            "place": place,
            "interests": {
                "keywords": keywords,
                "topics": rng.sample(TOPICS, 4),
                "regions": [place, *rng.sample(PLACES, 2)],
            },
            "feeds": [slug],
            "brand": {
                "color": f"#{rng.randrange(0x202020, 0x909090):06x}",
                "boilerplate": "Eine regionale Industrieinitiative.",
            },
            "imprint": {
                "organisation": f"Industrieinitiative {place} {n} e.V.",
                "legal_form": "eingetragener Verein",
                "address": f"Werkstraße {n % 90 + 1}, 12345 {place}",
                "representative": "Vorstand",
                "email": f"info@{slug}.example.org",
                "phone": "0221 4710-100",
                "responsible": "Pressestelle",
                "privacy_url": f"https://{slug}.example.org/datenschutz",
            },
            "press_contact": {
                "name": "Pressestelle",
                "function": "Pressesprecherin",
                "organisation": f"Industrieinitiative {place} {n} e.V.",
                "address": f"Werkstraße {n % 90 + 1}, 12345 {place}",
                "phone": "0221 4710-114",
                "email": f"presse@{slug}.example.org",
            },
            "sender": {
                "name": f"Industrieinitiative {place} {n}",
                "email": f"newsletter@{slug}.example.org",
            },
        }
    )


def items(count: int, feeds: list[str], rng: random.Random) -> tuple[Candidate, ...]:
    made: list[Candidate] = []
    for n in range(count):
        keyword, place, topic = rng.choice(KEYWORDS), rng.choice(PLACES), rng.choice(TOPICS)
        title = f"{rng.choice(ORGS)} in {place} {rng.choice(VERBS)} {keyword}"
        summary = " ".join(
            f"{rng.choice(ORGS)} in {rng.choice(PLACES)} {rng.choice(VERBS)} "
            f"{rng.choice(KEYWORDS)} und {rng.choice(TOPICS)}."
            for _ in range(rng.randint(4, 8))
        )
        # One in ten items retells an earlier story: a near-duplicate cluster.
        cluster = made[rng.randrange(len(made))].story if made and rng.random() < 0.1 else None
        made.append(
            Candidate(
                item_id=f"item-{n:05d}",
                title=title,
                summary=summary,
                url=f"https://news.example.org/{n:05d}",
                published=DUE - timedelta(minutes=rng.randrange(1, 7 * 24 * 60)),
                feeds=(rng.choice(feeds),),
                tags=(topic,) if rng.random() < 0.5 else (),
                cluster=cluster,
            )
        )
    made.sort(key=lambda c: (c.published, c.item_id))  # as the database loads them
    return tuple(made)


def campaign() -> Campaign:
    return Campaign.model_validate(
        {
            "title": "Wochenrückblick",
            "period": {"start": "2026-10-01", "end": "2026-12-31"},
            "calendar": [
                {
                    "title": f"Industriedialog {place}",
                    "start": f"2026-12-{day:02d}T10:00:00",
                    "end": f"2026-12-{day:02d}T12:30:00",
                    "place": place,
                    "url": f"https://termine.example.org/{day}",
                }
                for day, place in ((1, "Koblenz"), (2, "Kassel"), (10, "Münster"))
            ],
            "deliverables": [
                {
                    "id": "digest",
                    "kind": "newsletter",
                    "trigger": {"schedule": "0 8 * * MON"},
                    "select": {
                        "lookback": "7d",
                        "max_items": 8,
                        "sections": [
                            {"title": "Energie", "topics": ["Strompreis", "Wasserstoffhochlauf"]},
                            {"title": "Fachkräfte", "topics": ["Fachkräftesicherung"]},
                        ],
                    },
                    "network": {"max_items": 3},
                    "nothing_new": "short",
                    "subject": "KW {{ week }}: {{ initiative.region }} – Industrie aktuell",
                    "preheader": "Meldungen, Termine und Hintergründe der {{ initiative.name }}",
                    "signature": {"name": "Pressestelle", "function": "Bündnis"},
                }
            ],
        }
    )


@dataclass(frozen=True)
class Captured:
    name: str
    context: dict[str, Any]
    output: str


@contextmanager
def capturing() -> Iterator[tuple[list[Captured], list[Captured]]]:
    """Record the (template, context) and (campaign text, context) pairs the composer renders."""
    templates: list[Captured] = []
    texts: list[Captured] = []
    original_template = getattr(newsletter, "render_template")  # noqa: B009
    original_text = getattr(newsletter, "render_text")  # noqa: B009

    def render_template(env: Any, name: str, context: dict[str, Any], where: str) -> str:
        output: str = original_template(env, name, context, where)
        templates.append(Captured(name, dict(context), output))
        return output

    def render_text(
        env: Any, source: str, context: dict[str, Any], *, origin: str, where: str
    ) -> str:
        output: str = original_text(env, source, context, origin=origin, where=where)
        texts.append(Captured(source, dict(context), output))
        return output

    setattr(newsletter, "render_template", render_template)  # noqa: B010
    setattr(newsletter, "render_text", render_text)  # noqa: B010
    try:
        yield templates, texts
    finally:
        setattr(newsletter, "render_template", original_template)  # noqa: B010
        setattr(newsletter, "render_text", original_text)  # noqa: B010


def alternating(
    repeats: int, engine: Callable[[], float], raw: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Engine and raw passes in turn, so both sides meet the same load on a shared machine."""
    engine_times, raw_times = [], []
    for _ in range(repeats):
        gc.collect()
        engine_times.append(engine())
        gc.collect()
        raw_times.append(raw())
    return engine_times, raw_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=1000)
    parser.add_argument("--items", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(SEED)
    network = [initiative(n, rng) for n in range(args.initiatives)]
    pool = items(args.items, [i.feeds[0] for i in network], rng)
    camp = campaign()
    spec = camp.deliverables[0]
    assert isinstance(spec, NewsletterDeliverable)
    owners = {i.feeds[0]: i.name for i in network}

    with tempfile.TemporaryDirectory(prefix="depesche-digests-") as name:
        workspace = Path(name)  # no templates/: the built-in ones, as for most initiatives
        inputs = [
            CompositionInput(
                workspace_root=workspace,
                campaign_name="wochenrueckblick",
                campaign=camp,
                deliverable_id=spec.id,
                initiative=member,
                due_at=DUE,
                candidates=pool,
                feed_titles={},
                partner_feeds={f: n for f, n in owners.items() if f != member.feeds[0]},
            )
            for member in network
        ]

        pieces = 0

        def engine_pass() -> float:
            nonlocal pieces
            forget_slot_data()
            start = time.perf_counter()
            made = [newsletter.compose_newsletter(inp, spec) for inp in inputs]
            elapsed = time.perf_counter() - start
            pieces = sum(len(p) for p in made)
            return elapsed

        with capturing() as (templates, texts):
            engine_pass()  # warm-up and capture: what the engine renders, with which contexts

        raw_env = Environment(
            loader=FileSystemLoader(str(BUILTIN_TEMPLATES)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
        text_templates = {source: raw_env.from_string(source) for source in {t.name for t in texts}}

        def raw_render() -> list[str]:
            out = [text_templates[t.name].render(t.context) for t in texts]
            for captured in templates:
                rendered = raw_env.get_template(captured.name).render(captured.context)
                out.append(
                    inliner.inline(rendered) if captured.name.endswith(".html") else rendered
                )
            return out

        def raw_pass() -> float:
            start = time.perf_counter()
            raw_render()
            return time.perf_counter() - start

        raw_outputs = raw_render()
        engine_outputs = [t.output for t in texts] + [
            inliner.inline(t.output) if t.name.endswith(".html") else t.output for t in templates
        ]
        identical = sum(a == b for a, b in zip(raw_outputs, engine_outputs, strict=True))
        engine_times, raw_times = alternating(REPEATS, engine_pass, raw_pass)

    engine_best, raw_best = min(engine_times), min(raw_times)
    paired = statistics.median(e / r for e, r in zip(engine_times, raw_times, strict=True))
    engine_rate, raw_rate = pieces / engine_best, pieces / raw_best
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"{args.initiatives} initiatives, {args.items} items, {pieces} digests "
        f"({len(templates)} template renders, {len(texts)} campaign texts; raw output identical "
        f"for {identical}/{len(raw_outputs)})"
    )
    print(
        f"engine composer  {engine_rate:8.1f} pieces/s  best {engine_best:.3f} s, "
        f"median {statistics.median(engine_times):.3f} s"
    )
    print(
        f"raw jinja2+css   {raw_rate:8.1f} pieces/s  best {raw_best:.3f} s, "
        f"median {statistics.median(raw_times):.3f} s"
    )
    overhead = engine_best / raw_best - 1
    verdict = "within" if overhead <= 0.5 else "over"
    ratio = engine_best / raw_best
    print(f"engine time / raw time = {ratio:.2f} ({overhead:+.0%}; {verdict} the +50 % target)")
    print(f"median of the {REPEATS} side-by-side pass ratios = {paired:.2f}")
    print(f"load average (1, 5, 15 min): {load}; other work on the machine slows both sides")


if __name__ == "__main__":
    main()
