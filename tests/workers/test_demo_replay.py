"""The embedded default end to end: the demo replay of the example, in-process."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from config.db import session_scope
from config.settings import configure, load_settings
from content.models import Piece
from workers.demo import replay


def manifests(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.rglob("manifest.json"))]


def test_demo_produces_every_piece_kind_for_all_six_initiatives(demo_run) -> None:
    kinds: dict[str, Counter[str]] = {}
    platforms: set[str] = set()
    for manifest in manifests(demo_run.out):
        for piece in manifest["pieces"]:
            kinds.setdefault(manifest["initiative"], Counter())[piece["kind"]] += 1
            platforms.add(piece.get("platform", ""))
    assert sorted(kinds) == sorted(demo_run.workspace.initiatives)
    for slug, counts in kinds.items():
        assert counts["newsletter"] >= 6, slug  # six Monday digests plus the kickoff
        assert counts["press_release"] == 1, slug
        assert counts["social"] >= 4, slug
    assert {"mastodon", "bluesky", "linkedin", "x"} <= platforms
    assert not [r for r in demo_run.replay.reports if r.errors]


def test_manifest_lists_files_with_checksums_and_item_reasons(demo_run) -> None:
    import hashlib

    for manifest_path in sorted(demo_run.out.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        assert set(manifest) >= {"initiative", "campaign", "slot", "pieces"}
        assert manifest_path.parent.name == manifest["slot"]
        for piece in manifest["pieces"]:
            assert piece["kind"] in {"newsletter", "social", "press_release"}
            for entry in piece["files"]:
                content = (manifest_path.parent / entry["path"]).read_bytes()
                assert hashlib.sha256(content).hexdigest() == entry["sha256"]
            for item in piece["items"]:
                assert item["url"].startswith("https://") and item["reason"]


def test_replaying_the_same_instants_creates_no_piece_and_rewrites_no_file(demo_run) -> None:
    with session_scope(demo_run.database_url) as session:
        before = session.scalar(select(func.count()).select_from(Piece))
    mtimes = {p: p.stat().st_mtime_ns for p in demo_run.out.rglob("*") if p.is_file()}
    configure(load_settings(demo_run.workspace_root, database_url=demo_run.database_url))
    try:
        again = replay(
            demo_run.database_url,
            demo_run.workspace,
            demo_run.out,
            clock=lambda: datetime(2026, 11, 26, tzinfo=UTC),
        )
    finally:
        configure(None)
    with session_scope(demo_run.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Piece)) == before
    assert not [r for r in again.reports if r.created]
    assert {p: p.stat().st_mtime_ns for p in demo_run.out.rglob("*") if p.is_file()} == mtimes
