"""WeChatClient against the stand-in over real HTTP."""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from server.kv import MemoryStore, RedisStore
from server.wechat.client import WeChatClient, token_cache_ttl
from server.wechat.errors import (
    InvalidCode,
    InvalidField,
    RateLimited,
    RiskyUser,
    TokenInvalid,
    UserRefused,
    WeChatBusy,
    WeChatError,
    WeChatUnavailable,
    is_permanent,
    is_transient,
)
from server.wechat.standin import Standin
from tests.wechat.conftest import REDIS_URL, requires_redis

# ---------------------------------------------------------------- code2session


async def test_code2session_works_once(standin: Standin, wechat: WeChatClient) -> None:
    issued = await standin.control.issue_code(openid="o-veteran-1", unionid="u-1")
    session = await wechat.code2session(issued.code)
    assert (session.openid, session.session_key, session.unionid) == ("o-veteran-1", issued.session_key, "u-1")
    assert issued.session_key not in repr(session)

    with pytest.raises(InvalidCode) as reused:
        await wechat.code2session(issued.code)
    assert reused.value.errcode == 40029
    assert is_permanent(reused.value)


async def test_expired_code_is_rejected(standin: Standin, wechat: WeChatClient) -> None:
    issued = await standin.control.issue_code(openid="o-late")
    await standin.control.advance_clock(301)
    with pytest.raises(InvalidCode):
        await wechat.code2session(issued.code)


async def test_code2session_rate_limit_per_user(standin: Standin, wechat: WeChatClient) -> None:
    codes = [(await standin.control.issue_code(openid="o-busy-user")).code for _ in range(102)]
    for code in codes[:100]:
        await wechat.code2session(code)
    with pytest.raises(RateLimited) as limited:
        await wechat.code2session(codes[100])
    assert limited.value.errcode == 45011 and is_transient(limited.value)
    # Another user is unaffected, and the same user may log in again next minute.
    other = await standin.control.issue_code(openid="o-other-user")
    assert (await wechat.code2session(other.code)).openid == "o-other-user"
    await standin.control.advance_clock(61)
    assert (await wechat.code2session(codes[101])).openid == "o-busy-user"


async def test_risky_user(standin: Standin, wechat: WeChatClient) -> None:
    await standin.control.mark_risky(openid="o-risky")
    issued = await standin.control.issue_code(openid="o-risky")
    with pytest.raises(RiskyUser) as risky:
        await wechat.code2session(issued.code)
    assert risky.value.errcode == 40226 and is_permanent(risky.value)


async def test_busy_backoff_is_bounded(standin: Standin) -> None:
    wechat = WeChatClient(standin.settings(busy_retries=3), MemoryStore(), busy_backoff_seconds=0.01)
    try:
        await standin.control.fail_busy(count=2, path="/sns/jscode2session")
        issued = await standin.control.issue_code(openid="o-patient")
        assert (await wechat.code2session(issued.code)).openid == "o-patient"
        assert len(await standin.control.requests(path="/sns/jscode2session")) == 3

        await standin.control.clear_requests()
        await standin.control.fail_busy(count=50)
        issued = await standin.control.issue_code(openid="o-patient")
        started = time.monotonic()
        with pytest.raises(WeChatBusy) as busy:
            await wechat.code2session(issued.code)
        assert busy.value.errcode == -1 and is_transient(busy.value)
        # 1 attempt + busy_retries retries, with delays 0.01 + 0.02 + 0.04.
        assert len(await standin.control.requests(path="/sns/jscode2session")) == 4
        assert time.monotonic() - started < 2
    finally:
        await wechat.aclose()


async def test_unreachable_wechat_is_unavailable() -> None:
    from server.config import WeChatSettings

    wechat = WeChatClient(WeChatSettings(api_base_url="http://127.0.0.1:9", request_timeout_seconds=2), MemoryStore())
    try:
        with pytest.raises(WeChatUnavailable) as unavailable:
            await wechat.code2session("any-code")
        assert unavailable.value.errcode is None and is_transient(unavailable.value)
        assert "any-code" not in str(unavailable.value)
    finally:
        await wechat.aclose()


async def test_secrets_never_logged(standin: Standin, wechat: WeChatClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issued = await standin.control.issue_code(openid="o-log")
    session = await wechat.code2session(issued.code)
    await wechat.send_subscribe_message(
        openid="o-log", template_id="tmpl-1", page="pages/index/index", data={"thing1": "测试"}
    )
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "/sns/jscode2session" in text  # httpx did log the request...
    for secret in ("dev-app-secret", issued.code, session.session_key, await wechat.access_token()):
        assert secret not in text  # ...with the secret, code and token masked


# ---------------------------------------------------------------- access token


def test_token_cache_ttl() -> None:
    assert token_cache_ttl(expires_in=7200) == 6900
    assert token_cache_ttl(expires_in=400) == 100
    assert token_cache_ttl(expires_in=300) == 150  # never past expiry, never zero


async def test_token_cached_in_kv(standin: Standin) -> None:
    store = MemoryStore()
    wechat = WeChatClient(standin.settings(), store)
    try:
        first = await wechat.access_token()
        assert await wechat.access_token() == first
        assert await store.get("wechat:access_token:wx-dev-appid") == first
        ttl = await store.ttl("wechat:access_token:wx-dev-appid")
        assert ttl is not None and 6890 < ttl <= 6900
        stats = await standin.control.stats()
        assert stats["stable_token_fetches"] == 1 and stats["token_fetches"] == 0
        body = (await standin.control.requests(path="/cgi-bin/stable_token"))[0]["body"]
        assert body == {
            "grant_type": "client_credential",
            "appid": "wx-dev-appid",
            "secret": "dev-app-secret",
            "force_refresh": False,
        }
    finally:
        await wechat.aclose()


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=requires_redis)])
async def test_token_shared_between_clients(standin: Standin, backend: str) -> None:
    prefix = f"test-wechat-{uuid.uuid4().hex}:"
    if backend == "redis":
        assert REDIS_URL
        stores = [RedisStore(REDIS_URL, prefix=prefix), RedisStore(REDIS_URL, prefix=prefix)]
    else:
        shared = MemoryStore()
        stores = [shared, shared]
    clients = [WeChatClient(standin.settings(), store) for store in stores]
    try:
        tokens = {await c.access_token() for c in clients for _ in range(5)}
        assert len(tokens) == 1
        assert (await standin.control.stats())["stable_token_fetches"] == 1
    finally:
        for c in clients:
            await c.aclose()
        if backend == "redis":
            await stores[0].flush_prefix()  # type: ignore[attr-defined]
            for store in stores:
                await store.close()


async def test_always_40001_fails_after_exactly_one_retry(standin: Standin, wechat: WeChatClient) -> None:
    await standin.control.fail_token(errcode=40001)
    with pytest.raises(TokenInvalid) as invalid:
        await wechat.send_subscribe_message(openid="o-1", template_id="t-1", page=None, data={"thing1": "x"})
    assert invalid.value.errcode == 40001
    assert "one token refresh" in invalid.value.errmsg
    assert len(await standin.control.requests(path="/cgi-bin/message/subscribe/send")) == 2
    stats = await standin.control.stats()
    assert stats["stable_token_fetches"] == 2
    assert not any(r["body"].get("force_refresh") for r in await standin.control.requests(path="/cgi-bin/stable_token"))


async def test_expired_token_is_refreshed_and_retried(standin: Standin, wechat: WeChatClient) -> None:
    old = await wechat.access_token()
    await standin.control.advance_clock(7201)  # the stand-in now considers the cached token expired
    await wechat.send_subscribe_message(openid="o-1", template_id="t-1", page=None, data={"thing1": "x"})
    sends = await standin.control.requests(path="/cgi-bin/message/subscribe/send")
    assert [s["errcode"] for s in sends] == [42001, 0]
    assert await wechat.access_token() != old


class _RacingStore(MemoryStore):
    """The first read returns a stale token, as if another process replaced it just after."""

    def __init__(self, stale: str) -> None:
        super().__init__()
        self._stale: str | None = stale

    async def get(self, key: str) -> str | None:
        if self._stale is not None and key.startswith("wechat:access_token:"):
            stale, self._stale = self._stale, None
            return stale
        return await super().get(key)


async def test_failed_token_only_deleted_if_still_cached(standin: Standin) -> None:
    store = _RacingStore(stale="STALE-TOKEN")
    other = WeChatClient(standin.settings(), store)
    wechat = WeChatClient(standin.settings(), store)
    try:
        store._stale = None
        fresh = await other.access_token()  # "another process" stores a fresh token
        store._stale = "STALE-TOKEN"
        await wechat.send_subscribe_message(openid="o-1", template_id="t-1", page=None, data={"thing1": "x"})
        # The stale token failed, but the fresh one in the store survived and was used for the retry.
        assert await store.get(wechat.token_cache_key) == fresh
        assert (await standin.control.stats())["stable_token_fetches"] == 1
        sends = await standin.control.requests(path="/cgi-bin/message/subscribe/send")
        assert [s["query"]["access_token"] for s in sends] == ["STALE-TOKEN", fresh]
    finally:
        await other.aclose()
        await wechat.aclose()


# ---------------------------------------------------------------- subscribe messages and phone numbers


async def test_subscribe_send_recorded(standin: Standin, wechat: WeChatClient) -> None:
    msgid = await wechat.send_subscribe_message(
        openid="o-veteran-1",
        template_id="TMPL-confirmation-due",
        page="pages/confirmation/index?campaign_id=12",
        data={"thing1": "2026年度资格认证", "date3": {"value": "2026年12月31日"}},
        miniprogram_state="trial",
        lang="zh_CN",
    )
    assert isinstance(msgid, int)
    [message] = await standin.control.messages()
    assert message["touser"] == "o-veteran-1"
    assert message["template_id"] == "TMPL-confirmation-due"
    assert message["page"] == "pages/confirmation/index?campaign_id=12"
    assert message["miniprogram_state"] == "trial" and message["lang"] == "zh_CN"
    assert message["data"] == {"thing1": {"value": "2026年度资格认证"}, "date3": {"value": "2026年12月31日"}}
    assert message["msgid"] == msgid


async def test_subscribe_defaults_from_settings(standin: Standin) -> None:
    wechat = WeChatClient(standin.settings(miniprogram_state="formal", lang="en_US"), MemoryStore())
    try:
        await wechat.send_subscribe_message(openid="o-1", template_id="t", page=None, data={"thing1": "x"})
        [message] = await standin.control.messages()
        assert (message["miniprogram_state"], message["lang"]) == ("formal", "en_US")
        assert "page" not in message
    finally:
        await wechat.aclose()


async def test_user_refused(standin: Standin, wechat: WeChatClient) -> None:
    await standin.control.refuse(openid="o-no", template_id="t-due")
    with pytest.raises(UserRefused) as refused:
        await wechat.send_subscribe_message(openid="o-no", template_id="t-due", page=None, data={"thing1": "x"})
    assert refused.value.errcode == 43101 and is_permanent(refused.value)
    # Other templates for the same user still go through.
    await wechat.send_subscribe_message(openid="o-no", template_id="t-other", page=None, data={"thing1": "x"})


async def test_invalid_field_names_the_field(standin: Standin, wechat: WeChatClient) -> None:
    with pytest.raises(InvalidField) as invalid:
        await wechat.send_subscribe_message(
            openid="o-1",
            template_id="t",
            page=None,
            data={"thing1": "ok", "thing3": "这是一段明显超过二十个字符限制的事项说明文字内容"},
        )
    assert invalid.value.errcode == 47003
    assert invalid.value.field == "thing3"
    assert is_permanent(invalid.value)
    with pytest.raises(InvalidField) as empty:
        await wechat.send_subscribe_message(openid="o-1", template_id="t", page=None, data={"time2": ""})
    assert empty.value.field == "time2"


async def test_get_phone_number(standin: Standin, wechat: WeChatClient) -> None:
    code = await standin.control.issue_phone_code(phone_number="13912345678")
    phone = await wechat.get_phone_number(code)
    assert (phone.phone_number, phone.pure_phone_number, phone.country_code) == ("13912345678", "13912345678", "86")
    with pytest.raises(InvalidCode):
        await wechat.get_phone_number(code)


def test_error_classification() -> None:
    import httpx

    assert is_transient(WeChatError(45047, "out of send limit"))
    assert is_permanent(WeChatError(40037, "invalid template_id"))
    assert is_permanent(ValueError("bug"))
    assert is_transient(httpx.ConnectError("refused"))
    assert InvalidField(47003, "argument invalid! data.character_string4.value invalid rid: 1-2-3").field == "character_string4"
    assert WeChatError(47003, "x rid: 64d4912a-5e4f2ce4").rid == "64d4912a-5e4f2ce4"
