"""Test harness: the real app, served over real HTTP with its start-up listeners run once.

Backends: SQLite (a temporary file) and the in-process key-value store by default; PostgreSQL and
Redis when VETS_TEST_DATABASE_URL and VETS_TEST_REDIS_URL are set (CI sets both for its second run).
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sanic import Sanic
from tortoise import Tortoise, connections

from server import db
from server.app import create_app
from server.config import Settings
from server.notifications.templates import default_registry
from server.security.fields import configure_cipher
from server.wechat.standin import StandinControl, StandinServer, standin_server
from tests.server_process import free_port

Sanic.test_mode = True

TEST_DATABASE_URL = os.environ.get("VETS_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("VETS_TEST_REDIS_URL")
REAL_SERVICES = bool(TEST_DATABASE_URL and TEST_REDIS_URL)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"vets backends: database={'postgres' if TEST_DATABASE_URL else 'sqlite'} kv={'redis' if TEST_REDIS_URL else 'memory'}"]


TEMPLATE_IDS = {key: f"TPL-{key}" for key in default_registry().keys()}


@pytest.fixture(scope="session")
def wechat_standin_server() -> Iterator[StandinServer]:
    """One local WeChat stand-in for the whole session; the app's WeChat client talks to it."""
    with standin_server() as server:
        yield server


@pytest.fixture
async def wechat_standin(wechat_standin_server: StandinServer) -> AsyncIterator[StandinControl]:
    control = StandinControl(wechat_standin_server.base_url)
    await control.reset()
    await control.configure(template_ids=list(TEMPLATE_IDS.values()))
    yield control
    await control.aclose()


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory, wechat_standin_server: StandinServer) -> Settings:
    base: Path = tmp_path_factory.mktemp("vets")
    database_url = TEST_DATABASE_URL or f"sqlite://{base / 'test.sqlite3'}"
    return Settings(
        environment="test",
        var_dir=base,
        media_dir=base / "media",
        log_json=False,
        run_background_jobs=False,
        database={"url": database_url, "pool_max_size": 10},
        redis={"url": TEST_REDIS_URL, "key_prefix": f"vets-test-{uuid.uuid4().hex[:8]}:"},
        # "test" is held to the same secret checks as production: the suite brings its own secrets.
        security={"max_login_failures": 3, "lockout_seconds": 60, "session_key": secrets.token_urlsafe(32), "qr_signing_key": secrets.token_urlsafe(32), "field_key": base64.b64encode(secrets.token_bytes(32)).decode()},
        audit={"key": secrets.token_urlsafe(32)},
        # The shared synthetic face fixtures paint actions onto photos, which the passive
        # model rightly calls fakes; tests with real recordings switch it on themselves.
        face={"passive_model": "none"},
        wechat={
            "api_base_url": wechat_standin_server.base_url,
            "app_id": wechat_standin_server.state.config.app_id,
            "app_secret": wechat_standin_server.state.config.app_secret,
            "push_token": secrets.token_hex(16),
            "busy_retries": 1,
            "template_ids": TEMPLATE_IDS,
        },
    )


@pytest.fixture(scope="session")
async def app(test_settings: Settings) -> AsyncIterator[Sanic]:
    if TEST_DATABASE_URL:
        await db.reset_postgres_schema(TEST_DATABASE_URL)
    configure_cipher(test_settings.security.field_key.get_secret_value())
    # The checked-in migrations build the schema: the suite tests them on both databases.
    await db.apply_migrations(test_settings.database.url)
    application = create_app(test_settings)
    server = await application.create_server(host="127.0.0.1", port=free_port(), return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    application.ctx.test_base_url = f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
    yield application
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await server.after_stop()


@pytest.fixture
async def client(app: Sanic) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.ctx.test_base_url, timeout=30) as http:
        yield http


async def _truncate_all() -> None:
    apps = Tortoise.apps
    assert apps is not None
    tables = [model._meta.db_table for model in apps.get_models_iterable()]
    conn = connections.get("default")
    if db.is_postgres():
        await conn.execute_script("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE;")
    else:
        await conn.execute_script("PRAGMA foreign_keys = OFF;" + "".join(f'DELETE FROM "{t}";' for t in tables) + "PRAGMA foreign_keys = ON;")


@pytest.fixture
def background_only(app: Sanic) -> Iterator[None]:
    """Answer at once (202) instead of waiting for a small job, so it is seen running."""
    uploads = app.ctx.settings.uploads
    saved = uploads.import_inline_wait_seconds
    uploads.import_inline_wait_seconds = 0
    yield
    uploads.import_inline_wait_seconds = saved


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each test starts from empty tables and an empty key-value store."""
    if "app" not in request.fixturenames and "client" not in request.fixturenames:
        yield
        return
    app: Sanic = request.getfixturevalue("app")
    await _truncate_all()
    from server.audit.service import ensure_audit_head

    await ensure_audit_head()
    # The anchor file describes the chain just truncated: each test starts a new chain.
    app.ctx.settings.audit_anchor_path.unlink(missing_ok=True)
    kv = app.ctx.kv
    if hasattr(kv, "flush_prefix"):
        await kv.flush_prefix()
    else:
        await kv.close()
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In the real-services run, any skipped test fails the run: nothing may quietly not run."""
    if os.environ.get("VETS_TEST_REQUIRE_REAL_SERVICES") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if not REAL_SERVICES:
        print("\nVETS_TEST_REQUIRE_REAL_SERVICES=1 but VETS_TEST_DATABASE_URL / VETS_TEST_REDIS_URL are not both set")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif skipped:
        print(f"\n{len(skipped)} test(s) skipped in the real-services run: " + ", ".join(r.nodeid for r in skipped))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def server_clock() -> Iterator[None]:
    """Tests move the server's clock (server/clock.py) instead of sending dates; put it back after."""
    from server import clock

    clock.reset()
    yield
    clock.reset()
