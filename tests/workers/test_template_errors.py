"""A broken template stops only the piece it renders, and says where and for whom."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from campaigns.workspace import load_workspace
from config.settings import configure, load_settings
from content.ingest import ingest
from workers.runner import run_at

DIGEST = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


def test_broken_override_fails_one_initiative_and_the_others_are_written(
    tmp_path: Path, database_url: str, example_workspace: Path
) -> None:
    override = example_workspace / "templates" / "krefeld" / "newsletter.html"
    override.parent.mkdir(parents=True)
    override.write_text("<html>\n<body>\n{{ top.titel }}\n</body>\n</html>\n")
    workspace = load_workspace(example_workspace)
    ingest(
        database_url,
        list(workspace.feeds.values()),
        base_dir=workspace.root,
        now=DIGEST,
        fetch=workspace.config.fetch,
    )
    configure(load_settings(example_workspace, database_url=database_url))
    try:
        reports = run_at(
            database_url,
            workspace,
            DIGEST,
            out_dir=tmp_path / "out",
            now=DIGEST,
            campaign="wochenrueckblick",
        )
    finally:
        configure(None)

    (report,) = reports
    assert report.status == "failed"
    (error,) = report.errors
    assert error.startswith("krefeld: ")
    assert f"{override}:3:" in error
    assert "titel" in error
    assert "campaign wochenrueckblick, initiative krefeld" in error
    written = sorted(p.parts[-4] for p in (tmp_path / "out").rglob("manifest.json"))
    assert written == sorted(s for s in workspace.initiatives if s != "krefeld")
    for manifest in (tmp_path / "out").rglob("manifest.json"):
        assert json.loads(manifest.read_text())["pieces"][0]["kind"] == "newsletter"
