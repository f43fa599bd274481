from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings


def test_environment_wins_over_the_workspace_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "depesche.toml").write_text(
        '[settings]\nbroker_url = "redis://127.0.0.1:1/0"\nout_dir = "/tmp/from-file"\n'
    )
    monkeypatch.setenv("DEPESCHE_BROKER_URL", "redis://127.0.0.1:2/0")
    settings = load_settings(tmp_path)
    assert settings.broker_url == "redis://127.0.0.1:2/0"
    assert settings.out_dir == Path("/tmp/from-file")


def test_embedded_default_is_sqlite_in_the_workspace_var_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DEPESCHE_DATABASE_URL", "DEPESCHE_BROKER_URL", "DEPESCHE_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(tmp_path)
    assert settings.broker_url is None
    assert (
        settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'depesche.db'}"
    )
