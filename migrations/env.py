"""Alembic environment: the schema is the metadata of every package's models."""

from __future__ import annotations

from alembic import context

import campaigns.models
import config.models
import content.models
import workers.models
import workers.schedule_models
import workers.subscriber_models
from config.db import Base, get_engine

_ = (
    campaigns.models,
    config.models,
    content.models,
    workers.models,
    workers.schedule_models,
    workers.subscriber_models,
)
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
