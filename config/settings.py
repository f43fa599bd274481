"""Runtime settings: ``DEPESCHE_*`` environment variables over ``[settings]`` in depesche.toml.

The workspace's files say *what* to produce; settings say *where* it runs (database, broker).
Deployment-specific values therefore come from the environment first, so one workspace in git
runs unchanged on a laptop (SQLite, in-process) and on a cluster (PostgreSQL, Redis).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEPESCHE_", extra="ignore")

    workspace: Path = Field(default=Path("."))
    database_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None
    out_dir: Path | None = None
    # Where the embedded database and beat's schedule live (the workspace may be read-only).
    state_dir: Path | None = None
    log_level: str = "WARNING"
    # Seconds `depesche run` waits for distributed workers before it gives up.
    run_timeout: float = 600.0
    # The sweeper: how often it looks, when an unclaimed share is sent again, and how long a
    # worker may hold a share before it counts as dead (longer than any share takes).
    sweep_interval: float = 60.0
    resend_after: float = 60.0
    share_lease: float = 300.0
    # Shares per broker message: thousands of initiatives become a few hundred messages.
    chunk_size: int = 25
    # Seconds a schedule slot may be late (beat down, restarting) and still fire; older slots
    # are recorded as missed instead (`slot.missed`).
    schedule_grace: float = 3600.0
    # Seconds added to beat's wall clock: rehearse (or test) a schedule as if it were another
    # time, e.g. Monday 08:00 now, without touching the machine's clock. 0 in production.
    beat_clock_offset: float = 0.0
    # Delivery (issue 6). Secrets come from the environment only, never from workspace files,
    # and never appear in logs, events or error messages.
    # Signs unsubscribe, confirmation and consent tokens; kept out of the settings' repr.
    secret_key: str | None = Field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8000"  # where `depesche web` is reachable from outside
    # smtp://user:password@host:port, smtps:// for implicit TLS; kept out of the settings' repr.
    smtp_url: str | None = Field(default=None, repr=False)
    # Retention (GDPR): unconfirmed sign-ups and old delivery records are deleted after this.
    unconfirmed_retention_days: int = 30
    delivery_retention_days: int = 365
    smtp_ca_file: Path | None = None  # trust this CA (PEM) instead of the system's, e.g. in tests
    smtp_rate: float | None = None  # messages per second per server; `?rate=` in the URL wins
    # PEM string or path of a PEM file; DKIM signing is off without it.
    dkim_key: str | None = Field(default=None, repr=False)
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    # The release step (workers/delivery.py): how often beat runs it, how long a worker may hold
    # a claimed delivery before it counts as dead (then `unknown`), and rows per commit.
    delivery_interval: float = 10.0
    delivery_lease: float = 300.0
    delivery_chunk: int = 200

    @property
    def resolved_database_url(self) -> str:
        """The embedded default: SQLite in the workspace's ``var/``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_state_dir / 'depesche.db'}"

    @property
    def resolved_state_dir(self) -> Path:
        state = self.state_dir if self.state_dir is not None else self.workspace.resolve() / "var"
        state.mkdir(parents=True, exist_ok=True)
        return state

    @property
    def resolved_out_dir(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.workspace / "out"


def load_settings(workspace: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings for a workspace: environment first, then its depesche.toml ``[settings]``."""
    if workspace is None:
        workspace = os.environ.get("DEPESCHE_WORKSPACE", ".")
    workspace = Path(workspace)
    from_file: dict[str, Any] = {}
    toml_path = workspace / "depesche.toml"
    if toml_path.is_file():
        with toml_path.open("rb") as handle:
            from_file = dict(tomllib.load(handle).get("settings", {}))
    for key in list(from_file):
        if f"DEPESCHE_{key.upper()}" in os.environ:
            del from_file[key]
    values = {**from_file, **overrides, "workspace": workspace}
    return Settings(**values)


_current: Settings | None = None


def configure(settings: Settings | None) -> None:
    """Make ``settings`` what in-process tasks see (the CLI resolved them from its arguments)."""
    global _current
    _current = settings


def current_settings() -> Settings:
    return _current if _current is not None else load_settings()
