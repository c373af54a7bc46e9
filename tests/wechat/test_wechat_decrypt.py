"""encryptedData decryption with the session key (wx.getUserInfo style)."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from server.wechat.decrypt import InvalidEncryptedData, decrypt_user_data

APP_ID = "wx-dev-appid"


def _encrypt(data: dict, *, key: bytes, iv: bytes) -> str:
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(data, ensure_ascii=False).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def test_decrypts_and_checks_watermark() -> None:
    key, iv = os.urandom(16), os.urandom(16)
    data = {"nickName": "老兵", "watermark": {"appid": APP_ID, "timestamp": 1764000000}}
    encrypted = _encrypt(data, key=key, iv=iv)
    session_key, iv_text = base64.b64encode(key).decode(), base64.b64encode(iv).decode()
    assert decrypt_user_data(session_key=session_key, encrypted_data=encrypted, iv=iv_text, app_id=APP_ID) == data

    with pytest.raises(InvalidEncryptedData, match="another appid"):
        decrypt_user_data(session_key=session_key, encrypted_data=encrypted, iv=iv_text, app_id="wx-other")
    wrong_key = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(InvalidEncryptedData) as failure:
        decrypt_user_data(session_key=wrong_key, encrypted_data=encrypted, iv=iv_text, app_id=APP_ID)
    assert wrong_key not in str(failure.value)
    with pytest.raises(InvalidEncryptedData):
        decrypt_user_data(session_key="not base64!", encrypted_data=encrypted, iv=iv_text, app_id=APP_ID)
