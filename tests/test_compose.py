"""The distributed deployment: docker-compose.yml and the image it builds.

The machines that run the tests have no compose plugin, so the file is checked against the
Compose Specification schema (check-jsonschema's vendored copy) and for the promises the README
makes that no schema can state: start order by health, a scalable worker, a read-only workspace.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from tests.services import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPESCHE_SERVICES = ("migrate", "worker", "beat", "flower", "web")
# A service another one waits for with `service_healthy` must say how it is healthy; these are
# the ones a person or a proxy talks to, so they say it even when nobody waits for them.
HEALTHCHECKED = ("redis", "postgres", "worker", "flower", "mailpit", "web")


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(executable), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves `<<` merges
    assert isinstance(document, dict)
    return document


def test_compose_file_matches_the_compose_specification() -> None:
    result = check_jsonschema(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    """The check above can fail: a misspelt start condition is caught."""
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE.read_text(encoding="utf-8")
    assert "service_completed_successfully" in text
    broken.write_text(text.replace("service_completed_successfully", "service_done"))

    result = check_jsonschema(broken)

    assert result.returncode != 0
    assert "service_done" in result.stdout + result.stderr


def test_deployment_has_every_service_the_readme_names(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "redis",
        "postgres",
        "migrate",
        "worker",
        "beat",
        "flower",
        "mailpit",
        "web",
    }


def test_services_wait_for_the_health_of_what_they_need(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for needed, rule in service.get("depends_on", {}).items():
            assert isinstance(rule, dict), f"{name} waits for {needed} without a condition"
            condition = rule["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), name
            if condition == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits on {needed}'s health"
            else:
                assert services[needed].get("restart") == "no", f"{needed} must be one-shot"
    for name in ("worker", "beat", "web"):
        assert services[name]["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    for name in HEALTHCHECKED:
        assert services[name]["healthcheck"]["test"], name


def test_migrate_runs_once_and_brings_the_schema_up_to_date(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]

    assert migrate["restart"] == "no"
    assert migrate["command"][:2] == ["depesche", "migrate"]


def test_worker_can_be_scaled(compose: dict[str, Any]) -> None:
    """`--scale worker=N` needs no fixed container name and no fixed host port."""
    worker = compose["services"]["worker"]

    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"][:2] == ["depesche", "worker"]


def test_depesche_services_share_settings_and_mount_the_workspace_read_only(
    compose: dict[str, Any],
) -> None:
    for name in DEPESCHE_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert env["DEPESCHE_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert env["DEPESCHE_DATABASE_URL"].split("@")[1].startswith("postgres:5432/"), name
        assert env["DEPESCHE_BROKER_URL"] == "redis://redis:6379/0", name
        workspace_mounts = [v for v in service["volumes"] if v.split(":")[-2] == "/workspace"]
        assert workspace_mounts, f"{name} does not mount the workspace"
        assert all(v.endswith(":/workspace:ro") for v in workspace_mounts), name
        assert env["DEPESCHE_WORKSPACE"] == "/workspace", name


def test_every_interpolated_variable_has_a_default() -> None:
    """`docker compose up` works without a `.env` file; `$$` is a literal dollar for the shell."""
    text = COMPOSE.read_text(encoding="utf-8").replace("$$", "")
    variables = re.findall(r"\$\{([^}]*)\}", text)

    assert variables
    assert [v for v in variables if ":-" not in v] == []
    assert "$" not in re.sub(r"\$\{[^}]*\}", "", text)


def test_services_run_commands_that_exist(compose: dict[str, Any]) -> None:
    from config.cli import app

    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    for name in ("migrate", "worker", "beat", "web"):
        command = compose["services"][name]["command"]
        assert command[0] == "depesche" and command[1] in commands, name
    assert "run" in commands and "ingest" in commands  # the README's `compose run` examples
    flower = compose["services"]["flower"]["command"]
    assert flower[:3] == ["celery", "--app", "config.celery_app"]


def test_image_contains_every_package_and_what_it_copies_exists() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    sources = [part for line in lines if line.startswith("COPY ") for part in line.split()[1:-1]]
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    for package in ("config", "campaigns", "content", "workers", "web", "migrations"):
        assert package in sources, f"the image lacks the package {package}"
