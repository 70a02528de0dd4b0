"""Alembic environment: runs on the engine handed in by data_model.db, or ORDERPILOT_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import data_model.tables  # noqa: F401
from data_model.db import make_engine
from data_model.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine") or make_engine(get_settings().database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
