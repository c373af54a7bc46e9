"""100 concurrent access_token calls from 4 processes sharing Redis cause exactly one token fetch."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import uuid

from server.kv import RedisStore
from server.wechat.standin import Standin
from tests.wechat.conftest import REDIS_URL, requires_redis
from tests.wechat.wechat_token_worker import fetch_tokens

PROCESSES = 4
CALLS_PER_PROCESS = 25


@requires_redis
async def test_one_token_fetch_across_processes(standin: Standin) -> None:
    assert REDIS_URL
    prefix = f"test-wechat-mp-{uuid.uuid4().hex}:"  # unique per run, shared by the four processes
    settings = {
        "app_id": "wx-dev-appid",
        "app_secret": "dev-app-secret",
        "api_base_url": standin.base_url,
        "request_timeout_seconds": 10.0,
    }
    # "spawn": forking a process that runs an event loop and the stand-in's threads is unsafe.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=fetch_tokens, args=(settings, REDIS_URL, prefix, CALLS_PER_PROCESS, barrier, results), daemon=True
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [await asyncio.to_thread(results.get, True, 60) for _ in processes]
    except queue.Empty:
        raise AssertionError("a token worker process did not report within 60 s") from None
    finally:
        for process in processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
        store = RedisStore(REDIS_URL, prefix=prefix)
        await store.flush_prefix()
        await store.close()

    errors = [detail for status, detail in outcomes if status != "ok"]
    assert not errors, errors
    tokens = [token for _, batch in outcomes for token in batch]
    assert len(tokens) == PROCESSES * CALLS_PER_PROCESS
    assert len(set(tokens)) == 1
    stats = await standin.control.stats()
    assert stats["stable_token_fetches"] == 1
    assert stats["requests_by_path"] == {"/cgi-bin/stable_token": 1}
    assert tokens[0] == stats["stable_token"]
