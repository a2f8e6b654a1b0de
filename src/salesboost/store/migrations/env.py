"""Alembic environment: runs the migrations through the async engine of the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from salesboost.store.base import Base
from salesboost.store.db import WRITE_OPTIONS, create_engine
from salesboost.store.schema import DEFAULT_BUSY_TIMEOUT

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    busy_timeout = config.attributes.get("busy_timeout", DEFAULT_BUSY_TIMEOUT)
    # Migrations write: on SQLite they take the write lock at BEGIN (see `create_engine`).
    engine = create_engine(str(url), busy_timeout=busy_timeout, execution_options=WRITE_OPTIONS)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `salesboost db upgrade`")
asyncio.run(_main())
