"""Depesche's overhead over its raw libraries, measured on the example workspace in one run.

Two ratios, never asserted (timings depend on the machine; only the ratios within one run mean
something):

1. Ingest: items per second of ``content.ingest.ingest`` (fetch from disk, parse, sanitise,
   normalise, deduplicate, store in a fresh SQLite database) against parsing the same bytes
   alone (feedparser for RSS/Atom; feedparser 6 cannot read JSON Feed, so that file is parsed
   with ``json.loads``, which is what the engine itself uses for it).
2. Assembly: pieces per second of ``depesche run`` in-process (``workers.runner.run_at`` at the
   instants ``depesche demo`` replays) against rendering the very same templates with the very
   same contexts in a plain ``jinja2.Environment``.

Each side is timed a few times and the best pass counts, both in wall-clock and in this
process's CPU time (the CPU figures stay steadier on a busy machine). The engine's assembly
passes share a time budget so the whole bench stays within a couple of minutes; the first pass
also records the renders, and stands in alone when no further pass fits.

Everything happens in temporary directories: a fresh database (built by the Alembic migrations)
for every timed pass, and a fresh output folder. Run with ``make bench`` (an optional argument
names another workspace).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from rich.console import Console
from rich.table import Table

from campaigns.workspace import Workspace, load_workspace
from config.db import dispose_engines, get_engine
from config.migrate import upgrade
from config.settings import configure, load_settings
from content import rendering
from content.composers import newsletter, press_release, social
from content.ingest import ingest
from workers import runner
from workers.demo import demo_instants

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "examples" / "zukunft-der-industrie"
BUILTIN_TEMPLATES = ROOT / "content" / "templates"
INGEST_REPEATS = 5
RAW_PARSE_REPEATS = 5
ASSEMBLY_REPEATS = 3  # at most; fewer when a pass is slow (see ASSEMBLY_BUDGET)
ASSEMBLY_BUDGET = 75.0  # seconds for all engine assembly passes, the capture pass included
RAW_RENDER_REPEATS = 5
COMPOSER_MODULES = (newsletter, press_release, social)

console = Console()
if not console.is_terminal:
    console.width = max(console.width, 100)  # `make bench | tee`: keep the table on one line


# --- helpers ------------------------------------------------------------------------------------


@contextmanager
def fresh_database(workspace: Path, tmp: Path, label: str) -> Iterator[str]:
    """A new SQLite file at the newest schema, forgotten (engine disposed) afterwards."""
    path = tmp / f"{label}.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    configure(load_settings(workspace, database_url=url))
    try:
        yield url
    finally:
        get_engine(url).dispose()
        dispose_engines()
        configure(None)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass(frozen=True)
class Sample:
    """One timed pass: wall-clock seconds, and this process's CPU seconds (robust on a busy box)."""

    wall: float
    cpu: float


class Stopwatch:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Sample:
        return Sample(time.perf_counter() - self.wall, time.process_time() - self.cpu)


@dataclass(frozen=True)
class Timings:
    samples: list[Sample]

    @property
    def wall(self) -> float:
        return min(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return min(s.cpu for s in self.samples)

    def describe(self) -> str:
        median = statistics.median(s.wall for s in self.samples)
        return (
            f"best {self.wall * 1000:.1f} ms wall / {self.cpu * 1000:.1f} ms CPU, "
            f"median {median * 1000:.1f} ms wall over {len(self.samples)} runs"
        )


def best_of(repeats: int, run: Callable[[], Sample]) -> Timings:
    samples = []
    for _ in range(repeats):
        gc.collect()
        samples.append(run())
    return Timings(samples)


def wait_for_campaigns(workspace: Path, timeout: float = 20 * 60, step: float = 30) -> None:
    """The example may still be being written; wait (a while) for its campaigns/ to fill."""
    deadline = time.monotonic() + timeout
    while not any((workspace / "campaigns").glob("*.yaml")):
        if time.monotonic() > deadline:
            raise SystemExit(f"{workspace / 'campaigns'} is still empty; nothing to assemble")
        console.print(f"waiting for campaigns in {workspace / 'campaigns'} …")
        time.sleep(step)


# --- 1. ingest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    feeds: int
    entries: int
    stored: int
    engine: Timings
    raw: Timings


def raw_parse(blobs: list[tuple[str, bytes]]) -> int:
    """The libraries alone: feedparser on the same bytes (json.loads for a JSON Feed)."""
    entries = 0
    for name, content in blobs:
        if name.endswith(".json"):
            entries += len(json.loads(content)["items"])
        else:
            entries += len(feedparser.parse(io.BytesIO(content)).entries)
    return entries


def bench_ingest(ws: Workspace, tmp: Path) -> IngestResult:
    assert ws.config.demo is not None
    now = ws.config.demo.ingest_at.astimezone(UTC)
    feeds = list(ws.feeds.values())
    blobs = [(feed.url, (ws.root / feed.url).read_bytes()) for feed in feeds]
    entries = raw_parse(blobs)
    stored = 0

    def engine_pass() -> Sample:
        nonlocal stored
        with fresh_database(ws.root, tmp, "ingest") as url:
            watch = Stopwatch()
            outcomes = ingest(url, feeds, base_dir=ws.root, now=now, fetch=ws.config.fetch)
            sample = watch.stop()
        failed = [f"{o.feed_id}: {o.error}" for o in outcomes if o.status != "ok"]
        if failed:
            raise SystemExit("ingest failed:\n" + "\n".join(failed))
        stored = sum(len(o.new) for o in outcomes)
        return sample

    def raw_pass() -> Sample:
        watch = Stopwatch()
        raw_parse(blobs)
        return watch.stop()

    engine_pass()  # warm-up: imports, regex compilation, the first engine
    raw = best_of(RAW_PARSE_REPEATS, raw_pass)
    engine = best_of(INGEST_REPEATS, engine_pass)
    return IngestResult(len(feeds), entries, stored, engine, raw)


# --- 2. assembly --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Render:
    """One render the engine did: a template by name, or a campaign text from a string."""

    kind: str  # "template" or "text"
    search_path: tuple[str, ...]
    name: str  # template name, or the text's source
    context: dict[str, Any]
    output: str


def _search_path(env: Any) -> tuple[str, ...]:
    """The engine's lookup order (initiative folder, workspace templates, built-ins) as paths."""
    paths: list[str] = []
    loader = env.loader
    for sub in loader.loaders if isinstance(loader, ChoiceLoader) else [loader]:
        if isinstance(sub, FileSystemLoader):
            paths.extend(p for p in sub.searchpath if Path(p).is_dir())
    paths.append(str(BUILTIN_TEMPLATES))
    return tuple(dict.fromkeys(paths))


@contextmanager
def capturing() -> Iterator[list[Render]]:
    """Record every render the composers do (they import the functions by name)."""
    renders: list[Render] = []
    original_template, original_text = rendering.render_template, rendering.render_text

    def render_template(env: Any, name: str, context: dict[str, Any], where: str) -> str:
        output = original_template(env, name, context, where)
        renders.append(Render("template", _search_path(env), name, dict(context), output))
        return output

    def render_text(
        env: Any, source: str, context: dict[str, Any], *, origin: str, where: str
    ) -> str:
        output = original_text(env, source, context, origin=origin, where=where)
        renders.append(Render("text", _search_path(env), source, dict(context), output))
        return output

    saved = [(m, m.render_template, m.render_text) for m in COMPOSER_MODULES]
    for module in COMPOSER_MODULES:
        module.render_template = render_template
        module.render_text = render_text
    try:
        yield renders
    finally:
        for module, template_fn, text_fn in saved:
            module.render_template = template_fn
            module.render_text = text_fn


@dataclass(frozen=True)
class EnginePass:
    sample: Sample
    instants: int
    slots: int
    pieces: Counter[str]
    errors: list[str]


def engine_assembly_pass(ws: Workspace, tmp: Path, label: str) -> EnginePass:
    """Fresh database and output, ingest (not timed), then every demo instant (timed)."""
    assert ws.config.demo is not None
    with fresh_database(ws.root, tmp, label) as url:
        ingest(
            url,
            list(ws.feeds.values()),
            base_dir=ws.root,
            now=ws.config.demo.ingest_at.astimezone(UTC),
            fetch=ws.config.fetch,
        )
        instants = demo_instants(url, ws)  # what `depesche demo` replays
        payloads = runner.published_payloads(url)
        out_dir = Path(tempfile.mkdtemp(prefix=f"{label}-out-", dir=tmp))
        gc.collect()
        reports = []
        watch = Stopwatch()
        for instant in instants:
            reports.extend(
                runner.run_at(
                    url,
                    ws,
                    instant,
                    out_dir=out_dir,
                    now=datetime.now(UTC),
                    distributed=False,
                    payloads=payloads,
                )
            )
        sample = watch.stop()
    # A slot can be reported at several instants (an event within two windows): count it once.
    unique = {r.slot.key: r for r in reports}
    pieces = Counter(kind for r in unique.values() for _, kind, _ in r.pieces)
    errors = [e for r in unique.values() for e in r.errors]
    return EnginePass(sample, len(instants), len(unique), pieces, errors)


def raw_environment(search_path: tuple[str, ...]) -> Environment:
    # default_for_string=False as in the engine: campaign texts (subjects, headlines) are not
    # HTML, and escaping them would change the output we compare against.
    return Environment(
        loader=FileSystemLoader(list(search_path)),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def raw_render_all(renders: list[Render], envs: dict[tuple[str, ...], Environment]) -> list[str]:
    out = []
    for r in renders:
        env = envs[r.search_path]
        template = env.get_template(r.name) if r.kind == "template" else env.from_string(r.name)
        out.append(template.render(r.context))
    return out


@dataclass(frozen=True)
class AssemblyResult:
    instants: int
    slots: int
    pieces: Counter[str]
    errors: list[str]
    engine: Timings
    from_capture: bool  # no pass without the wrappers fitted the budget
    renders: Counter[str]
    identical: int
    raw: Timings


def bench_assembly(ws: Workspace, tmp: Path) -> AssemblyResult:
    # Capture pass (also the warm-up): which templates with which contexts the engine renders.
    with capturing() as renders:
        captured = engine_assembly_pass(ws, tmp, "capture")
    # Timed passes without the capturing wrappers, as many as fit the budget. When even one
    # would not fit (a slow or busy machine), the capture pass's own time stands in: the
    # wrappers only copy a dict per render, and the bench must stay within its couple of minutes.
    timed: list[Sample] = []
    spent = [captured.sample.wall]
    while len(timed) < ASSEMBLY_REPEATS and sum(spent) + statistics.mean(spent) <= ASSEMBLY_BUDGET:
        n = len(timed)
        gc.collect()
        result = engine_assembly_pass(ws, tmp, f"assembly{n}")
        if result.pieces != captured.pieces:
            raise SystemExit(f"pass {n} made {result.pieces}, the capture pass {captured.pieces}")
        timed.append(result.sample)
        spent.append(result.sample.wall)

    envs = {path: raw_environment(path) for path in {r.search_path for r in renders}}
    outputs = raw_render_all(renders, envs)  # warm-up: compiles (and caches) the templates once
    identical = sum(a == r.output for a, r in zip(outputs, renders, strict=True))

    def raw_pass() -> Sample:
        watch = Stopwatch()
        raw_render_all(renders, envs)
        return watch.stop()

    raw = best_of(RAW_RENDER_REPEATS, raw_pass)
    kinds = Counter(
        r.name if r.kind == "template" else "campaign text (from_string)" for r in renders
    )
    return AssemblyResult(
        instants=captured.instants,
        slots=captured.slots,
        pieces=captured.pieces,
        errors=captured.errors,
        engine=Timings(timed or [captured.sample]),
        from_capture=not timed,
        renders=kinds,
        identical=identical,
        raw=raw,
    )


# --- report -------------------------------------------------------------------------------------


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    for key in [k for k in os.environ if k.startswith("DEPESCHE_")]:
        del os.environ[key]  # this process only: the bench always runs embedded, in temp dirs
    workspace = Path(sys.argv[1]) if len(sys.argv) > 1 else WORKSPACE
    wait_for_campaigns(workspace)
    ws = load_workspace(workspace)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="depesche-bench-") as name:
        tmp = Path(name)
        console.print("[bold]1. ingest[/bold] …")
        ing = bench_ingest(ws, tmp)
        console.print("[bold]2. assembly[/bold] …")
        asm = bench_assembly(ws, tmp)
    total = time.perf_counter() - started

    console.print(
        f"\nIngest: {ing.feeds} feeds, {ing.entries} entries parsed, {ing.stored} items stored "
        "(after deduplication).\n"
        f"  engine  {ing.engine.describe()}\n"
        f"  raw     {ing.raw.describe()}"
    )

    pieces = sum(asm.pieces.values())
    renders = sum(asm.renders.values())
    per_piece = renders / pieces if pieces else 0.0
    mix = ", ".join(f"{n} {k}" for k, n in sorted(asm.pieces.items()))
    used = ", ".join(f"{n}× {k}" for k, n in asm.renders.most_common())
    engine_note = " (the capture pass: no other fitted the budget)" if asm.from_capture else ""
    console.print(
        f"\nAssembly: {asm.instants} instants, {asm.slots} slots, {pieces} pieces ({mix}), "
        f"{len(asm.errors)} failed shares.\n"
        f"  {renders} renders ({per_piece:.2f} per piece): {used}\n"
        f"  raw Jinja output identical to the engine's for {asm.identical}/{renders} renders\n"
        f"  engine  {asm.engine.describe()}{engine_note}\n"
        f"  raw     {asm.raw.describe()}"
    )
    for error in asm.errors:
        console.print(f"  [red]failed[/red] {error}", highlight=False)

    table = Table(title=f"Depesche vs raw libraries (one run, {total:.0f} s wall)")
    for column in ("stage", "clock", "engine", "raw", "engine / raw", "overhead ×"):
        table.add_column(column, justify="left" if column in ("stage", "clock") else "right")
    rows = [
        ("ingest items/s", ing.entries, ing.engine, ing.raw),
        ("assembly pieces/s", pieces, asm.engine, asm.raw),
    ]
    for label, count, engine, raw in rows:
        for clock in ("wall", "cpu"):
            engine_rate = count / getattr(engine, clock)
            raw_rate = count / getattr(raw, clock)
            table.add_row(
                label if clock == "wall" else "",
                "wall" if clock == "wall" else "CPU",
                f"{engine_rate:,.1f}",
                f"{raw_rate:,.1f}",
                f"{engine_rate / raw_rate:.3f}",
                f"{raw_rate / engine_rate:.1f}",
            )
    console.print()
    console.print(table)
    console.print(
        "raw ingest: feedparser.parse(BytesIO) on the same bytes (json.loads for the JSON Feed). "
        "raw assembly: equivalent pieces/s of plain jinja2 rendering the captured "
        "(template, context) pairs, "
        f"{per_piece:.2f} renders per piece. CPU = this process's CPU time (steadier when the "
        "machine is busy; leaves out waiting for disk)."
    )


if __name__ == "__main__":
    main()
