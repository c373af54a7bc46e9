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
DEV_AUDIT_KEY = "dev-audit-chain-key-do-not-use-in-production"
# Secrets shorter than this are refused outside development (a one-character key is no key).
MIN_SECRET_LENGTH = 32

Environment = Literal["development", "test", "production"]


class DatabaseSettings(BaseModel):
    # tortoise-orm URL: sqlite://path or postgres://user:pass@host:port/db
    url: str = "sqlite://var/vets.sqlite3"
    pool_max_size: int = 10


class RedisSettings(BaseModel):
    # Empty means the in-process key-value store: a single Sanic process only.
    url: str | None = None
    key_prefix: str = "vets:"
    # Per worker process. A request needing a connection while all are busy waits up to
    # pool_timeout_seconds (then 503 store_unavailable) instead of failing at once.
    max_connections: int = 64
    pool_timeout_seconds: float = 5.0
    socket_timeout_seconds: float = 5.0
    connect_timeout_seconds: float = 2.0


class SecuritySettings(BaseModel):
    session_key: SecretStr = SecretStr(DEV_SESSION_KEY)
    # base64 of 32 random bytes; AES-GCM for ID numbers at rest, and (derived) the HMAC lookup key.
    field_key: SecretStr = SecretStr(DEV_FIELD_KEY)
    qr_signing_key: SecretStr = SecretStr(DEV_QR_KEY)
    staff_session_ttl_seconds: int = 8 * 3600
    # Sliding idle timeout: a session unused this long is gone even before its absolute TTL.
    staff_idle_timeout_seconds: int = 30 * 60
    # Wrong passwords for one account from one address before that pair is locked out.
    max_login_failures: int = 5
    # Wrong passwords from one address (any usernames) before the address is refused.
    max_login_failures_per_source: int = 20
    # Wrong passwords for one account from anywhere before the account itself is locked.
    max_account_failures: int = 50
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


class AuditSettings(BaseModel):
    # HMAC key of the audit chain; kept outside the database so rows cannot be re-hashed from it.
    key: SecretStr = SecretStr(DEV_AUDIT_KEY)
    # Append-only file the chain's head is written to periodically (default: <var_dir>/audit-anchor.log).
    # Put it where the application cannot rewrite it: `chattr +a`, another volume, or ship it off-host.
    anchor_path: Path | None = None


class UploadSettings(BaseModel):
    # Sanic refuses bodies above this before reading them (413).
    max_request_bytes: int = 25 * 1024 * 1024
    max_image_bytes: int = 4 * 1024 * 1024
    max_image_pixels: int = 24_000_000
    # Sparse form 3-10 frames, burst form up to 30 consecutive frames (docs/face.md).
    max_frames: int = 30
    min_frames: int = 3
    # Or one short clip (CameraContext.startRecord, MP4/MOV) instead of frames (face/video.py).
    max_video_bytes: int = 8 * 1024 * 1024
    max_video_seconds: float = 6.0
    max_import_bytes: int = 20 * 1024 * 1024
    # Registry rosters are streamed to disk (not bound by max_request_bytes): a million-row CSV is ~56 MB.
    max_registry_import_bytes: int = 128 * 1024 * 1024
    # A registry import still running after this answers 202 and continues in the background.
    import_inline_wait_seconds: float = 2.0
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
    # The face service (`python -m server face-service`): http://host:port or unix:/path/face.sock.
    # Empty: the engine runs inside each web worker.
    service_url: str | None = None
    service_timeout_seconds: float = 30.0
    service_retries: int = 2
    # In the face service: verifications admitted at once (running + waiting); more get 503 face_busy.
    service_max_pending: int = 8
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
    # Who signs the public notice (e.g. "灌云县退役军人事务局"); empty: the county office's name.
    notice_issuer: str = ""


class CardSettings(BaseModel):
    station_check_due_working_days: int = 5
    centre_verification_due_working_days: int = 5
    bureau_review_due_working_days: int = 7
    city_review_due_working_days: int = 10
    delivery_due_working_days: int = 10
    booking_cutoff_hours: int = 2
    # Bookings (pickups and appointments to apply) must be made, changed or cancelled at least this many
    # working days before the slot's day (server.workdays); 0: only the hours above apply.
    booking_cutoff_working_days: int = Field(default=0, ge=0, le=20)
    booking_reminder_hours: int = 24
    qr_token_ttl_seconds: int = 15 * 60
    # The year's plan as month-day pairs (谯退役军人优〔2022〕5号): three acceptance batches, 集中发证,
    # 重点核查, and the period in which applications may enter the review chain.
    batch_windows: list[tuple[str, str]] = Field(default_factory=lambda: [("03-01", "03-31"), ("04-01", "04-30"), ("05-01", "09-20")])
    issuance_stage: tuple[str, str] = ("09-21", "10-31")
    cleanup_stage: tuple[str, str] = ("11-01", "11-30")
    review_period: tuple[str, str] = ("03-01", "11-30")
    # Off by default: a county that runs cards all year keeps accepting; on, applications outside
    # the review period are refused.
    enforce_review_period: bool = False
    statistics_freeze_day: int = 20
    # Days after an application is closed (card delivered or withdrawn) before its materials may be destroyed.
    materials_retention_days: int = 365


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
    # On SIGTERM in-flight requests get this long to finish before the worker exits.
    shutdown_grace_seconds: float = 5.0
    # How long a worker may take to start before the server gives up (Sanic's default is 30 s).
    worker_start_timeout_seconds: float = Field(default=120.0, ge=5, le=600)
    # "fork" (Linux): workers inherit the loaded app; "spawn": each imports it afresh (Sanic's default).
    worker_start_method: Literal["fork", "spawn"] = "fork"

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    face: FaceSettings = Field(default_factory=FaceSettings)
    wechat: WeChatSettings = Field(default_factory=WeChatSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    confirmation: ConfirmationSettings = Field(default_factory=ConfirmationSettings)
    cards: CardSettings = Field(default_factory=CardSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")

    @property
    def audit_anchor_path(self) -> Path:
        return self.audit.anchor_path or self.var_dir / "audit-anchor.log"

    def check_production_secrets(self) -> None:
        """Refuse to start outside development with a secret left at its default or too short.

        Only ``development`` is exempt: ``test`` and ``production`` deployments are reachable by others.
        The test suite builds its settings in code and does not call this.
        """
        if self.environment == "development":
            return
        defaults = {
            "VETS_SECURITY__SESSION_KEY": (self.security.session_key, DEV_SESSION_KEY),
            "VETS_SECURITY__FIELD_KEY": (self.security.field_key, DEV_FIELD_KEY),
            "VETS_SECURITY__QR_SIGNING_KEY": (self.security.qr_signing_key, DEV_QR_KEY),
            "VETS_WECHAT__APP_SECRET": (self.wechat.app_secret, "dev-app-secret"),
            "VETS_WECHAT__PUSH_TOKEN": (self.wechat.push_token, "dev-push-token"),
            "VETS_AUDIT__KEY": (self.audit.key, DEV_AUDIT_KEY),
        }
        if self.environment != "production":
            # WeChat's own app secret: a test deployment talks to the WeChat stand-in, which uses the default.
            defaults.pop("VETS_WECHAT__APP_SECRET")
        left = [name for name, (value, dev) in defaults.items() if value.get_secret_value() == dev]
        if left:
            raise InsecureSettingsError(
                f"environment={self.environment} but these secrets are still the development "
                f"defaults: {', '.join(left)}"
            )
        # WeChat's push token is limited to 3-32 characters by WeChat itself; the app secret is WeChat's.
        strong = {"VETS_SECURITY__SESSION_KEY": self.security.session_key, "VETS_SECURITY__QR_SIGNING_KEY": self.security.qr_signing_key, "VETS_AUDIT__KEY": self.audit.key}
        weak = [name for name, value in strong.items() if len(value.get_secret_value()) < MIN_SECRET_LENGTH or len(set(value.get_secret_value())) < 8]
        if weak:
            raise InsecureSettingsError(f"these secrets are too weak (at least {MIN_SECRET_LENGTH} varied characters): {', '.join(weak)}")
        if len(self.wechat.push_token.get_secret_value()) < 16:
            raise InsecureSettingsError("VETS_WECHAT__PUSH_TOKEN is too short (at least 16 characters)")
        if self.environment == "production" and self.wechat.push_aes_key is None:
            # Plain-mode pushes are signed over (token, timestamp, nonce) only, not the body.
            raise InsecureSettingsError("production needs VETS_WECHAT__PUSH_AES_KEY: encrypted (safe-mode) pushes are the only ones whose body is signed")

    def check_workers(self, workers: int) -> None:
        if workers > 1 and not self.redis.url:
            raise InsecureSettingsError(
                "--workers > 1 needs VETS_REDIS__URL: the in-process key-value store cannot be "
                "shared between worker processes (sessions, rate limits, locks would diverge)"
            )


class InsecureSettingsError(RuntimeError):
    """Settings that must not be used to start the server."""
