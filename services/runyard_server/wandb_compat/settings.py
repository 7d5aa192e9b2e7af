"""Settings of the W&B compatibility service (`RUNYARD_WANDB_*`), read once at start.

The component owns no storage: it reaches the other services over their own contracts, so all it needs
are their addresses. In the local front door the HTTP services are called in process and ingest at
`RUNYARD_INGEST_PORT` on this machine, so none of these has to be set there.
"""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..common.settings import Settings, SettingsError, is_placeholder

__all__ = ["SERVICES", "WandbSettings", "load_wandb_settings", "service_for"]

SERVICES = ("auth", "query", "artifact")
# The REST paths of the auth service (runyard_server.auth.app.ROUTE_PREFIXES) and of the artifact service
# (artifact.app.is_artifact_path); this component may not import the services, tests/wandb_compat checks
# both copies against the code, as tests/chart does for the chart's routes.
_AUTH_PREFIXES = ("/api/v1/auth", "/api/v1/viewer", "/api/v1/teams", "/api/v1/entities", "/api/v1/admin")


def service_for(path: str) -> str:
    """Which service answers a REST path: "auth", "artifact" or "query" (the front door's routing)."""
    if any(path == p or path.startswith(p + "/") for p in _AUTH_PREFIXES):
        return "auth"
    if path == "/api/v1/artifacts" or path.startswith("/api/v1/artifacts/"):
        return "artifact"
    parts = path.split("/")  # ['', 'api', 'v1', 'runs', entity, project, run_id, 'files'|'artifacts', ...]
    if path.startswith("/api/v1/runs/") and len(parts) >= 8 and parts[7] in ("files", "artifacts"):
        return "artifact"
    return "query"


class WandbSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_WANDB_", extra="ignore")

    ingest_address: str = Field(
        default="", description="host:port of the gRPC ingest service; empty: 127.0.0.1:RUNYARD_INGEST_PORT"
    )
    api_url: str = Field(
        default="",
        description="base URL under which the auth, query and artifact REST paths answer (an Ingress or the "
        "front door), e.g. http://runyard-frontdoor:8080; empty: the front door this app runs in",
    )
    auth_url: str = Field(
        default="", description="base URL of the auth service alone (Kubernetes: its Service); empty: api_url"
    )
    query_url: str = Field(
        default="", description="base URL of the query service alone (Kubernetes: its Service); empty: api_url"
    )
    artifact_url: str = Field(
        default="", description="base URL of the artifact service alone (Kubernetes: its Service); empty: api_url"
    )
    request_timeout_s: float = Field(default=60.0, gt=0, le=3600, description="timeout of each upstream call")
    max_file_stream_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="largest file_stream request body accepted"
    )

    @field_validator("api_url", "auth_url", "query_url", "artifact_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value[:40]!r}")
        if is_placeholder(value):
            raise ValueError("still holds a placeholder value")
        return value.rstrip("/")

    def standalone_ready(self) -> bool:
        """Every REST path has somewhere to go without an in-process front door."""
        return bool(self.api_url) or all((self.auth_url, self.query_url, self.artifact_url))

    def base_urls(self) -> dict[str, str]:
        """service ("auth", "query", "artifact") -> the base URL its REST paths are sent to."""
        return {name: getattr(self, f"{name}_url") or self.api_url for name in SERVICES}

    def ingest_target(self, settings: Settings) -> str:
        """The address to dial for ingest."""
        if self.ingest_address:
            return self.ingest_address
        host = settings.ingest_host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{settings.ingest_port}"


def load_wandb_settings(**overrides: object) -> WandbSettings:
    """From the environment; raises SettingsError naming every bad `RUNYARD_WANDB_*` variable."""
    try:
        return WandbSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"RUNYARD_WANDB_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
