"""The migrations build exactly the schema the models declare, as one linear chain."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import campaigns.models
import config.models
import content.models
import workers.models
import workers.subscriber_models
from config.db import Base, get_engine
from config.migrate import alembic_config

_ = (campaigns.models, config.models, content.models, workers.models, workers.subscriber_models)


def test_migrations_form_one_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_migrated_database_matches_the_models(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
