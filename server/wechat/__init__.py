"""WeChat mini-program integration: API client, push helpers and a local stand-in for tests."""

from server.wechat.client import PhoneInfo, Session, WeChatClient
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

__all__ = [
    "InvalidCode",
    "InvalidField",
    "PhoneInfo",
    "RateLimited",
    "RiskyUser",
    "Session",
    "TokenInvalid",
    "UserRefused",
    "WeChatBusy",
    "WeChatClient",
    "WeChatError",
    "WeChatUnavailable",
    "is_permanent",
    "is_transient",
]
