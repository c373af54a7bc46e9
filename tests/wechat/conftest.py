"""Fixtures for WeChat tests; the stand-in itself is reusable from any test folder via
``server.wechat.standin.run_standin``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from server.kv import MemoryStore
from server.wechat.client import WeChatClient
from server.wechat.standin import Standin, run_standin

REDIS_URL = os.environ.get("VETS_TEST_REDIS_URL")
requires_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="set VETS_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run tests that share the token across processes",
)


@pytest.fixture
async def standin() -> AsyncIterator[Standin]:
    async with run_standin() as running:
        yield running


@pytest.fixture
async def wechat(standin: Standin) -> AsyncIterator[WeChatClient]:
    # Tiny back-off so busy tests stay fast; the bounds are what is being tested.
    # (Named "wechat": the root conftest's "client" fixture is the app's HTTP client.)
    client = WeChatClient(standin.settings(), MemoryStore(), busy_backoff_seconds=0.01)
    yield client
    await client.aclose()
