"""Decrypt ``wx.getUserInfo``-style ``encryptedData`` with the user's session_key.

Only needed for older open-data APIs (phone numbers now come from ``getuserphonenumber``); kept here
so the decryption and its watermark check live in one place. wechatpy does the AES-CBC and checks
that the watermark's appid is ours, which stops data encrypted for another mini-program being
replayed at us.
"""

from __future__ import annotations

import binascii
from typing import Any

from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import InvalidAppIdException


class InvalidEncryptedData(ValueError):
    """The data could not be decrypted with this session key, or was meant for another appid."""


def decrypt_user_data(*, session_key: str, encrypted_data: str, iv: str, app_id: str) -> dict[str, Any]:
    """Plain dict of the decrypted data (including its ``watermark``)."""
    try:
        crypto = WeChatWxaCrypto(session_key, iv, app_id)
        data = crypto.decrypt_message(encrypted_data)
    except InvalidAppIdException as exc:
        raise InvalidEncryptedData("encrypted data belongs to another appid") from exc
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
        # Messages never include the session key or the data.
        raise InvalidEncryptedData("encrypted data cannot be decrypted with this session key") from exc
    if not isinstance(data, dict):
        raise InvalidEncryptedData("decrypted data is not an object")
    return data
