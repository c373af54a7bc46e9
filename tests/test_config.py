from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys

import pytest

from server.app import create_app
from server.config import InsecureSettingsError, Settings


def test_development_defaults_are_accepted() -> None:
    Settings(environment="development").check_production_secrets()


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(InsecureSettingsError) as info:
        Settings(environment="production").check_production_secrets()
    assert "VETS_SECURITY__FIELD_KEY" in str(info.value)
    with pytest.raises(InsecureSettingsError):
        create_app(Settings(environment="production"))


def _real_secrets(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "security": {"session_key": secrets.token_urlsafe(32), "field_key": base64.b64encode(os.urandom(32)).decode(), "qr_signing_key": secrets.token_urlsafe(32)},
        "wechat": {"app_secret": "real-secret", "push_token": secrets.token_hex(16), "push_aes_key": secrets.token_urlsafe(32)[:43]},
        "audit": {"key": secrets.token_urlsafe(32)},
    }
    values.update(overrides)
    return values


def test_production_accepts_real_secrets() -> None:
    Settings(environment="production", **_real_secrets()).check_production_secrets()


def test_test_environment_is_not_exempt_from_secret_checks() -> None:
    with pytest.raises(InsecureSettingsError):
        Settings(environment="test").check_production_secrets()
    Settings(environment="test", **_real_secrets()).check_production_secrets()


def test_weak_secrets_and_plain_pushes_are_refused_in_production() -> None:
    one_character = _real_secrets(security={"session_key": "x", "field_key": base64.b64encode(os.urandom(32)).decode(), "qr_signing_key": secrets.token_urlsafe(32)})
    with pytest.raises(InsecureSettingsError, match="SESSION_KEY"):
        Settings(environment="production", **one_character).check_production_secrets()
    repeated = _real_secrets(audit={"key": "a" * 64})
    with pytest.raises(InsecureSettingsError, match="AUDIT__KEY"):
        Settings(environment="production", **repeated).check_production_secrets()
    plain = _real_secrets(wechat={"app_secret": "real-secret", "push_token": secrets.token_hex(16)})
    with pytest.raises(InsecureSettingsError, match="PUSH_AES_KEY"):
        Settings(environment="production", **plain).check_production_secrets()


def test_field_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        Settings(security={"field_key": base64.b64encode(b"short").decode()})


def test_nested_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VETS_DATABASE__URL", "postgres://u@h:5432/db")
    monkeypatch.setenv("VETS_REDIS__URL", "redis://h:6379/1")
    monkeypatch.setenv("VETS_UPLOADS__MAX_IMAGE_BYTES", "1234")
    settings = Settings()
    assert settings.database.url == "postgres://u@h:5432/db"
    assert settings.redis.url == "redis://h:6379/1"
    assert settings.uploads.max_image_bytes == 1234


def test_workers_without_redis_refused() -> None:
    with pytest.raises(InsecureSettingsError):
        Settings().check_workers(4)
    Settings(redis={"url": "redis://127.0.0.1:6379/0"}).check_workers(4)


def test_cli_refuses_many_workers_without_redis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "VETS_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "server", "--workers", "4"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "VETS_REDIS__URL" in result.stderr
