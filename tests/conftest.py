"""Shared fixtures. The suite runs on SQLite by default and again on PostgreSQL when
SMARTPAY_TEST_DATABASE_URL (set by `make test`) points at one. Each test gets a fresh
database: a temporary SQLite file, or a new PostgreSQL database dropped afterwards."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from smartpay.app import create_app
from smartpay.config import Settings
from smartpay.kit.db import Database, metadata
from smartpay.ledger import service as ledger
from smartpay.merchants.service import MerchantKeys, create_merchant
from smartpay.models_registry import import_all_models
from tests.card_scan import card_data_in_database, card_data_in_text


def is_postgres() -> bool:
    return os.environ.get("SMARTPAY_TEST_DATABASE_URL", "").startswith("postgresql")


async def _admin_execute(base_url: str, statement: str) -> None:
    import asyncpg

    url = make_url(base_url)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database="postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _after_test_checks(url: str) -> list[str]:
    """What every test's database must satisfy when the test ends: the ledger verifies
    (debits equal credits, balances match) and no test card number is stored in clear."""
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        problems: list[str] = []
        if "journal_lines" in tables:
            async with database.transaction() as session:
                problems += [f"ledger: {p}" for p in await ledger.verify(session)]
        if tables:
            problems += [f"card data: {p}" for p in await card_data_in_database(database)]
        return problems
    finally:
        await database.dispose()


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the backend under test. When the test ends, the ledger must
    verify and no card number may be found in it."""
    base = os.environ.get("SMARTPAY_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        yield url
        assert await _after_test_checks(url) == []
        return
    name = f"smartpay_t_{secrets.token_hex(6)}"
    await _admin_execute(base, f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
        assert await _after_test_checks(url) == []
    finally:
        await _admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Loggers of client libraries that tests use to play the merchant: the official stripe
# SDK logs its own request bodies at DEBUG in the test process. Those are the merchant's
# logs, not SmartPay's, so they are not scanned. SmartPay's server logs are scanned by
# the end-to-end tests from the server's own output.
CLIENT_SIDE_LOGGERS = frozenset({"stripe"})


class _CollectingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_SIDE_LOGGERS:
            return
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.messages.append(text)


@pytest.fixture(autouse=True)
def no_card_data_in_logs() -> Iterator[None]:
    """Every log record any test produces is scanned for the test card numbers."""
    handler = _CollectingHandler()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    leaks = [m[:200] for m in handler.messages if card_data_in_text(m)]
    assert leaks == [], f"card numbers in logs: {leaks}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A fresh database with every table."""
    import_all_models()
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    """Test settings; a test may override fields with ``@pytest.mark.settings(...)``."""
    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        run_worker_in_process=False,
        create_demo_merchant=False,
        **overrides,
    )


@dataclass
class Api:
    """An in-process client for the app, authenticated as one merchant."""

    client: httpx.AsyncClient
    keys: MerchantKeys
    other: MerchantKeys
    app: object

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.keys.secret_key}"}

    async def post(
        self, path: str, data: dict[str, object] | None = None, **kwargs: object
    ) -> httpx.Response:
        headers = {**self.auth(kwargs.pop("key", None)), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return await self.client.post(path, data=data, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        headers = {**self.auth(kwargs.pop("key", None)), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return await self.client.get(path, headers=headers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def api(settings: Settings, database: Database) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with database.transaction() as session:
            keys = await create_merchant(session, "Test merchant")
            other = await create_merchant(session, "Other merchant")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, keys=keys, other=other, app=app)
