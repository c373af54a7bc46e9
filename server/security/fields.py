"""Encryption of sensitive fields at rest (AES-GCM) with a keyed hash (HMAC) for exact lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(master: bytes, purpose: bytes) -> bytes:
    # Separate keys for encryption and lookup: a leaked lookup key must not decrypt anything.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class FieldCipher:
    VERSION = b"\x01"

    def __init__(self, master_key_b64: str) -> None:
        master = base64.b64decode(master_key_b64)
        self._aead = AESGCM(_derive(master, b"vets/field-encryption/v1"))
        self._lookup_key = _derive(master, b"vets/field-lookup/v1")

    def encrypt(self, plaintext: str, *, associated: bytes = b"") -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), associated)
        return base64.urlsafe_b64encode(self.VERSION + nonce + sealed).decode()

    def decrypt(self, token: str, *, associated: bytes = b"") -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        if raw[:1] != self.VERSION:
            raise ValueError("unknown ciphertext version")
        return self._aead.decrypt(raw[1:13], raw[13:], associated).decode()

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._lookup_key, value.encode(), hashlib.sha256).hexdigest()


_cipher: FieldCipher | None = None


def configure_cipher(master_key_b64: str) -> FieldCipher:
    global _cipher
    _cipher = FieldCipher(master_key_b64)
    return _cipher


def cipher() -> FieldCipher:
    if _cipher is None:
        raise RuntimeError("field cipher not configured: create_app() sets it up")
    return _cipher
