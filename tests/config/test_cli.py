"""The root command as a user calls it: a real subprocess, exit codes and output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.services import ROOT, depesche_command, depesche_env


def depesche(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = depesche_env(**({"database_url": database_url} if database_url else {}))
    env["COLUMNS"] = "200"  # Rich tables fit an 80-column pipe by shortening cells
    return subprocess.run(
        depesche_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_validate_exits_0_on_the_example(example_workspace: Path) -> None:
    result = depesche("validate", str(example_workspace))
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_prints_file_line_field_and_suggestion(example_workspace: Path) -> None:
    campaign = example_workspace / "campaigns" / "wochenrueckblick.yaml"
    lines = campaign.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "schedule:" in line)
    lines[index] = lines[index].replace("schedule:", "shedule:")
    campaign.write_text("\n".join(lines) + "\n")

    result = depesche("validate", str(example_workspace))

    assert result.returncode == 1
    assert f"{campaign}:{index + 1}: deliverables.0.trigger.shedule: " in result.stdout
    assert "did you mean 'schedule'" in result.stdout


def test_items_json_lines_carry_the_contract_fields(
    example_workspace: Path, database_url: str
) -> None:
    ingest = depesche(
        "ingest",
        str(example_workspace),
        "--now",
        "2026-11-16T12:00+01:00",
        database_url=database_url,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr

    result = depesche("items", str(example_workspace), "--json", database_url=database_url)

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) >= 150
    assert set(records[0]) == {
        "id",
        "title",
        "url",
        "published",
        "first_seen",
        "sources",
        "summary_html",
        "summary_text",
    }
    merged = [r for r in records if len(r["sources"]) > 1]
    assert merged, "stories carried by two feeds are one item with both sources"
    assert all("utm_" not in r["url"] for r in records)


def test_plan_lists_the_monday_digests_in_local_time(example_workspace: Path) -> None:
    result = depesche(
        "plan",
        str(example_workspace),
        "--from",
        "2026-10-19T00:00+02:00",
        "--to",
        "2026-11-03T00:00+01:00",
        "--campaign",
        "wochenrueckblick",
    )
    assert result.returncode == 0, result.stderr
    assert "2026-10-19T08:00+02:00" in result.stdout
    assert "2026-10-26T08:00+01:00" in result.stdout
    assert "digest-20261026T0700Z" in result.stdout
    assert "2026-11-02T08:00+01:00" in result.stdout


def test_run_without_an_offset_is_refused_with_a_clear_message(example_workspace: Path) -> None:
    result = depesche("run", str(example_workspace), "--at", "2026-11-16T08:00")
    assert result.returncode == 2
    assert "no UTC offset" in result.stderr


def test_runs_json_lines_show_each_run_with_its_share_counts(
    tmp_path: Path, example_workspace: Path, database_url: str
) -> None:
    assert depesche("ingest", str(example_workspace), "--now", "2026-11-16T12:00+01:00",
                    database_url=database_url).returncode == 0  # fmt: skip
    run = depesche(
        "run", str(example_workspace), "--at", "2026-11-16T08:00+01:00", "--campaign",
        "wochenrueckblick", "--out", str(tmp_path / "out"), database_url=database_url,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr

    result = depesche("runs", str(example_workspace), "--json", database_url=database_url)

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(r) == {"id", "slot", "status", "pieces", "started", "finished"} for r in records)
    (record,) = [r for r in records if r["slot"] == "wochenrueckblick/digest-20261116T0700Z"]
    assert record["status"] == "done"
    assert record["pieces"] == {"expected": 6, "done": 6, "failed": 0}
