from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.ops import services
from gateway.store.db import Store, open_store, sqlite_url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[services.ChildServer]:
    """One real PostgreSQL for the session; each test gets a database of its own."""
    server = services.postgres()
    with server:
        yield server


_made = itertools.count(1)


async def _connect(dsn: str) -> Any:
    """The port opens before the cluster takes connections ("the database system is starting up")."""
    import asyncpg

    for _ in range(150):
        try:
            return await asyncpg.connect(dsn)
        except asyncpg.exceptions.CannotConnectNowError:
            await asyncio.sleep(0.2)
    return await asyncpg.connect(dsn)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store on both back ends: SQLite (the embedded default) and PostgreSQL (districts)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "guardian.sqlite3")
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"t{next(_made)}"
        conn = await _connect(f"postgresql://guardian@127.0.0.1:{server.port}/postgres")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
        url = services.postgres_url(server, name)
    async with open_store(url) as s:
        yield s
