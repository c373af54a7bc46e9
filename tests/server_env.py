"""Environment for tests that start `python -m server` as a subprocess in the "test" environment, which is
held to production's secret checks: the secrets of the in-process test app (so that sessions made there are
valid in the subprocess), or fresh ones."""

from __future__ import annotations

import base64
import secrets

from server.config import Settings


def secret_env(settings: Settings | None = None) -> dict[str, str]:
    if settings is None:
        return {
            "VETS_SECURITY__SESSION_KEY": secrets.token_urlsafe(32),
            "VETS_SECURITY__QR_SIGNING_KEY": secrets.token_urlsafe(32),
            "VETS_SECURITY__FIELD_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "VETS_AUDIT__KEY": secrets.token_urlsafe(32),
            "VETS_WECHAT__PUSH_TOKEN": secrets.token_hex(16),
        }
    return {
        "VETS_SECURITY__SESSION_KEY": settings.security.session_key.get_secret_value(),
        "VETS_SECURITY__QR_SIGNING_KEY": settings.security.qr_signing_key.get_secret_value(),
        "VETS_SECURITY__FIELD_KEY": settings.security.field_key.get_secret_value(),
        "VETS_AUDIT__KEY": settings.audit.key.get_secret_value(),
        "VETS_WECHAT__PUSH_TOKEN": settings.wechat.push_token.get_secret_value(),
    }
