"""Typed settings, read once from `RUNYARD_*` environment variables in each entry point."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .limits import HTTP_BODY_MAX_BYTES

__all__ = ["PLACEHOLDER_WORDS", "Settings", "SettingsError", "is_placeholder", "load_settings"]

# Values copied from an example file and never replaced. A secret or address that still holds one of
# these fails at start (every service, and the chart's validateValues), and generated secrets avoid them.
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "todo", "xxx")


def is_placeholder(value: str) -> bool:
    """True when `value` is a placeholder word, case-insensitive, ignoring surrounding `<>`, quotes and
    blanks: `CHANGEME`, `<changeme>`, `"todo"`. A real secret that merely contains one is accepted."""
    return value.strip().strip("<>\"' ").lower() in PLACEHOLDER_WORDS


class Settings(BaseSettings):
    """Settings every service reads. A bad value fails at start naming the full variable."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_", extra="ignore")

    database_url: str = Field(description="PostgreSQL DSN, e.g. postgresql://user:pw@host:5432/runyard")
    redis_url: str = Field(default="", description="Redis URL; empty disables live fan-out and caches")
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    log_level: str = Field(default="INFO")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: readable lines; json: one JSON object per line (Kubernetes)"
    )

    # ingest
    ingest_host: str = Field(default="0.0.0.0")
    ingest_port: int = Field(default=8081, ge=0, le=65535)
    heartbeat_timeout_s: float = Field(
        default=300.0, gt=0, description="a running run without heartbeat this long becomes crashed"
    )
    crash_check_interval_s: float = Field(default=15.0, gt=0)
    max_batch_records: int = Field(default=20_000, ge=1)
    max_key_length: int = Field(default=256, ge=8)
    max_json_value_bytes: int = Field(default=1_000_000, ge=1024)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    ingest_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="HTTP port for /healthz, /readyz, /metrics beside gRPC; 0: off"
    )

    # query / auth (HTTP)
    http_host: str = Field(default="0.0.0.0")
    http_port: int = Field(default=8080, ge=0, le=65535)
    public_ingest_address: str = Field(
        default="", description="host:port the SDK dials for ingest; empty: same host as the request"
    )
    public_ingest_tls: bool = Field(
        default=False, description="whether the public ingest address speaks TLS (an Ingress or Gateway terminating it)"
    )
    web_dist: str = Field(default="", description="folder of the built web UI served at /")
    sdk_wheels_dir: str = Field(
        default="", description="folder of wheels served as a PEP 503 index at /pypi/simple/ (the runyard SDK); "
        "empty: no index"
    )

    # ---- artifact service: object storage (S3 / MinIO / rclone serve s3) -------------------------
    # Only the artifact service and `runyard-server gc` read these; they check at start that the
    # endpoint and keys are set (artifact/storage.py), so the other services start without them.
    s3_endpoint: str = Field(default="", description="S3 endpoint the service calls, e.g. http://minio:9000")
    s3_public_endpoint: str = Field(
        default="", description="S3 endpoint named in presigned URLs (what clients reach); empty: s3_endpoint"
    )
    s3_credentials: Literal["secret", "environment"] = Field(
        default="secret",
        description="secret: RUNYARD_S3_ACCESS_KEY/_SECRET_KEY; environment: the AWS credential chain (EKS IRSA)",
    )
    s3_access_key: str = Field(default="")
    s3_secret_key: str = Field(default="")
    s3_bucket: str = Field(default="runyard")
    s3_region: str = Field(default="us-east-1")
    presign_ttl_s: int = Field(default=3600, ge=1, le=604_800, description="lifetime of a presigned URL")
    s3_multipart_threshold: int = Field(
        default=64 * 1024 * 1024, ge=5 * 1024 * 1024, description="files larger than this upload in parts"
    )
    s3_part_size: int = Field(
        default=16 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3, description="multipart part size"
    )
    max_file_size: int = Field(default=50 * 1024**3, ge=1, description="largest file accepted, bytes")
    # ---- end of artifact service settings ---------------------------------------------------------

    # ---- auth: sessions, sign-up, rate limits, key cache, OIDC single sign-on ---------------------
    # Read by the auth service (and, for the key cache, by every HTTP service). docs/auth.md.
    session_ttl_s: int = Field(default=14 * 86400, ge=60, description="browser session lifetime")
    secure_cookies: bool = Field(
        default=False, description="always mark session cookies Secure (else only over https)"
    )
    open_signup: bool = Field(
        default=False, description="default of the admin's open sign-up switch (anyone may sign up)"
    )
    invite_ttl_s: int = Field(default=7 * 86400, ge=60, description="lifetime of an invite link")
    login_rate_per_user: int = Field(
        default=5, ge=1,
        description="failed logins of one account before each further try waits (1 s, 2 s, 4 s, ... up to "
        "RUNYARD_LOGIN_MAX_DELAY_S); a browser that signed in to the account before never waits",
    )
    login_max_delay_s: int = Field(default=30, ge=1, le=3600, description="longest wait between two logins of one account")
    login_rate_per_address: int = Field(
        default=50, ge=1, description="failed logins per client address per window (then 429 until it ends)"
    )
    login_rate_window_s: int = Field(default=300, ge=1, description="how long failed logins are remembered")
    key_cache_ttl_s: float = Field(
        default=3.0, ge=0, le=4.5,
        description="seconds a verified API key is cached in Redis (revocation also invalidates at once); 0: off",
    )
    oidc_issuer: str = Field(default="", description="OIDC issuer URL; empty disables single sign-on")
    oidc_client_id: str = Field(default="")
    oidc_client_secret: str = Field(default="")
    oidc_redirect_url: str = Field(
        default="", description="callback URL registered at the provider; empty: derived from the request"
    )
    oidc_scopes: str = Field(default="openid email profile")
    oidc_auto_create: bool = Field(
        default=True, description="create a user on first OIDC sign-in when no user has that email"
    )
    oidc_allowed_domains: str = Field(
        default="", description="comma-separated email domains allowed to sign in by OIDC; empty: any"
    )
    team_admin_invites: bool = Field(
        default=False,
        description="default of the admin's switch letting team admins invite new accounts while sign-up is closed",
    )
    # ---- end of auth settings ---------------------------------------------------------------------

    # ---- security of the HTTP services: proxies, headers, metrics, request sizes (docs/security.md) --
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Proto are "
        "believed; empty: none (the peer address is the client)",
    )
    csp_frame_ancestors: str = Field(
        default="'none'", description="CSP frame-ancestors of every page: who may frame the UI ('none': nobody)"
    )
    metrics_token: str = Field(
        default="", description="when set, /metrics on the service port needs `Authorization: Bearer <token>`"
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="internal port serving only /metrics (on RUNYARD_HTTP_HOST); 0: none",
    )
    max_request_bytes: int = Field(
        default=HTTP_BODY_MAX_BYTES, ge=1024,
        description="largest request body the query and auth services read (bigger: 413)",
    )
    # ---- end of security settings -------------------------------------------------------------------

    @field_validator("database_url")
    @classmethod
    def _dsn(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "RUNYARD_DATABASE_URL must be a postgresql:// URL, got " + repr(value[:40])
            )
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if is_placeholder(parts.password or "") or is_placeholder(parts.hostname or ""):
            raise ValueError("RUNYARD_DATABASE_URL still holds a placeholder value")
        return value


    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        from .netaddr import parse_networks

        parse_networks(value)  # ValueError names the bad entry
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str) -> str:
        if value and (is_placeholder(value) or len(value) < 16):
            raise ValueError("RUNYARD_METRICS_TOKEN must be a real secret of at least 16 characters")
        return value

    @field_validator("csp_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in ";,\r\n"):
            raise ValueError("RUNYARD_CSP_FRAME_ANCESTORS is a space-separated CSP source list, e.g. 'none' or "
                             "'self' https://wiki.example.com")
        return value.strip()


class SettingsError(Exception):
    """Raised at start when the environment holds a bad or missing setting."""


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (tests, the local launcher).

    Raises SettingsError with one line per bad variable, each naming the full `RUNYARD_*` name.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "RUNYARD_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
