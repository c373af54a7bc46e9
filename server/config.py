"""One typed settings object for the whole service.

Every value can be set from the environment with the ``VETS_`` prefix; nested groups use a double
underscore, e.g. ``VETS_DATABASE__URL``, ``VETS_REDIS__URL``, ``VETS_SECURITY__FIELD_KEY``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults. They make `python -m server` work with no configuration at all, and
# `Settings.check_production_secrets` refuses them anywhere but development and tests.
DEV_SESSION_KEY = "dev-session-key-do-not-use-in-production"
DEV_FIELD_KEY = base64.b64encode(b"dev-field-key-32-bytes-long!!!!!").decode()
DEV_QR_KEY = "dev-qr-signing-key-do-not-use-in-production"

Environment = Literal["development", "test", "production"]


class DatabaseSettings(BaseModel):
    # tortoise-orm URL: sqlite://path or postgres://user:pass@host:port/db
    url: str = "sqlite://var/vets.sqlite3"
    pool_max_size: int = 10


class RedisSettings(BaseModel):
    # Empty means the in-process key-value store: a single Sanic process only.
    url: str | None = None
    key_prefix: str = "vets:"


class SecuritySettings(BaseModel):
    session_key: SecretStr = SecretStr(DEV_SESSION_KEY)
    # base64 of 32 random bytes; AES-GCM for ID numbers at rest, and (derived) the HMAC lookup key.
    field_key: SecretStr = SecretStr(DEV_FIELD_KEY)
    qr_signing_key: SecretStr = SecretStr(DEV_QR_KEY)
    staff_session_ttl_seconds: int = 8 * 3600
    # Sliding idle timeout: a session unused this long is gone even before its absolute TTL.
    staff_idle_timeout_seconds: int = 30 * 60
    max_login_failures: int = 5
    lockout_seconds: int = 15 * 60
    mini_session_ttl_seconds: int = 7 * 24 * 3600

    @field_validator("field_key")
    @classmethod
    def _field_key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except ValueError as exc:
            raise ValueError("field_key must be base64") from exc
        if len(raw) != 32:
            raise ValueError("field_key must decode to exactly 32 bytes")
        return value


class UploadSettings(BaseModel):
    # Sanic refuses bodies above this before reading them (413).
    max_request_bytes: int = 25 * 1024 * 1024
    max_image_bytes: int = 4 * 1024 * 1024
    max_image_pixels: int = 24_000_000
    # Sparse form 3-10 frames, burst form up to 30 consecutive frames (docs/face.md).
    max_frames: int = 30
    min_frames: int = 3
    max_import_bytes: int = 20 * 1024 * 1024
    max_document_bytes: int = 10 * 1024 * 1024


class FaceSettings(BaseModel):
    enabled: bool = True
    # Directory of an insightface-compatible pack with manifest.json; empty = the vectron wheel's files.
    pack_dir: Path | None = None
    antispoof_model: Path | None = None
    executor_workers: int = 2
    onnx_intra_op_threads: int = 1
    challenge_ttl_seconds: int = 180
    evidence_retention_days: int = 400
    max_reference_photos: int = 5
    # Set when the mini-program sends mirrored selfie frames (turn left/right swap).
    mirror_front_camera: bool = False
    threshold_pass: float | None = None
    threshold_fail: float | None = None
    # Challenges per person per day (China's date), and how many of them may go unused:
    # asking again and again for an easy challenge is refused.
    max_challenges_per_day: int = 8
    max_unused_challenges_per_day: int = 3
    # Passive anti-spoofing when no antispoof_model is set: the shipped MiniFASNet pair, or "none".
    passive_model: Literal["minifasnet", "none"] = "minifasnet"


class WeChatSettings(BaseModel):
    app_id: str = "wx-dev-appid"
    app_secret: SecretStr = SecretStr("dev-app-secret")
    api_base_url: str = "https://api.weixin.qq.com"
    # Push (message) callback: signature token and optional AES key for encrypted pushes.
    push_token: SecretStr = SecretStr("dev-push-token")
    push_aes_key: SecretStr | None = None
    miniprogram_state: Literal["developer", "trial", "formal"] = "developer"
    lang: str = "zh_CN"
    # template key (mp_templates/<key>.yaml) -> WeChat template id, per environment.
    template_ids: dict[str, str] = Field(default_factory=dict)
    require_phone_for_binding: bool = False
    request_timeout_seconds: float = 10.0
    busy_retries: int = 3


class OutboxSettings(BaseModel):
    # A claimed notification not finished within the lease is recovered by the next worker pass.
    lease_seconds: float = 60.0
    max_attempts: int = 8
    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 3600.0
    poll_interval_seconds: float = 2.0
    batch_size: int = 20


class ConfirmationSettings(BaseModel):
    max_failed_attempts_per_day: int = 3
    max_failed_attempts_per_campaign: int = 8
    review_due_working_days: int = 3
    notice_to_suspension_days: int = 60
    reminder_interval_days: int = 7


class CardSettings(BaseModel):
    station_check_due_working_days: int = 5
    centre_verification_due_working_days: int = 5
    bureau_review_due_working_days: int = 7
    city_review_due_working_days: int = 10
    delivery_due_working_days: int = 10
    booking_cutoff_hours: int = 2
    booking_reminder_hours: int = 24
    qr_token_ttl_seconds: int = 15 * 60


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VETS_",
        env_nested_delimiter="__",
        env_file=None,
        extra="ignore",
    )

    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    var_dir: Path = Path("var")
    media_dir: Path = Path("var/media")
    # First admin's password; when empty a one-time password is generated and printed once.
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    log_json: bool = True
    run_background_jobs: bool = True

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    face: FaceSettings = Field(default_factory=FaceSettings)
    wechat: WeChatSettings = Field(default_factory=WeChatSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    confirmation: ConfirmationSettings = Field(default_factory=ConfirmationSettings)
    cards: CardSettings = Field(default_factory=CardSettings)

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")

    def check_production_secrets(self) -> None:
        """Refuse to start outside development with any secret left at its development default."""
        if self.is_development:
            return
        defaults = {
            "VETS_SECURITY__SESSION_KEY": (self.security.session_key, DEV_SESSION_KEY),
            "VETS_SECURITY__FIELD_KEY": (self.security.field_key, DEV_FIELD_KEY),
            "VETS_SECURITY__QR_SIGNING_KEY": (self.security.qr_signing_key, DEV_QR_KEY),
            "VETS_WECHAT__APP_SECRET": (self.wechat.app_secret, "dev-app-secret"),
            "VETS_WECHAT__PUSH_TOKEN": (self.wechat.push_token, "dev-push-token"),
        }
        left = [name for name, (value, dev) in defaults.items() if value.get_secret_value() == dev]
        if left:
            raise InsecureSettingsError(
                f"environment={self.environment} but these secrets are still the development "
                f"defaults: {', '.join(left)}"
            )

    def check_workers(self, workers: int) -> None:
        if workers > 1 and not self.redis.url:
            raise InsecureSettingsError(
                "--workers > 1 needs VETS_REDIS__URL: the in-process key-value store cannot be "
                "shared between worker processes (sessions, rate limits, locks would diverge)"
            )


class InsecureSettingsError(RuntimeError):
    """Settings that must not be used to start the server."""
