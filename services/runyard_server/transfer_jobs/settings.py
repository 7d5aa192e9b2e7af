"""Settings of the copy jobs (`RUNYARD_TRANSFER_*`, and the instance's secret key), read once at start."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..common.settings import SettingsError, is_placeholder

__all__ = ["TransferSettings", "load_transfer_settings"]


class TransferSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_TRANSFER_", extra="ignore", populate_by_name=True)

    secret_key: str = Field(
        default="", validation_alias=AliasChoices("RUNYARD_SECRET_KEY", "secret_key"),
        description="RUNYARD_SECRET_KEY: 32 random bytes, base64 (urlsafe or standard); encrypts the API keys of "
        "remote instances (AES-GCM). `runyard-server local` keeps one in <data dir>/secret.key",
    )
    secret_key_file: str = Field(
        default="", validation_alias=AliasChoices("RUNYARD_SECRET_KEY_FILE", "secret_key_file"),
        description="RUNYARD_SECRET_KEY_FILE: a file holding that key (used when RUNYARD_SECRET_KEY is empty)",
    )
    concurrency: int = Field(default=2, ge=1, le=64, description="copy jobs one worker runs at once")
    source_url: str = Field(
        default="", description="base URL under which this instance's REST API answers for the worker (the "
        "front door or the Ingress), e.g. http://runyard-frontdoor:8080; local mode sets it",
    )
    state_dir: str = Field(
        default="", description="folder for the worker's copy journals (resuming a killed copy); empty: "
        "a folder in the system's temp dir",
    )
    stale_s: float = Field(
        default=30.0, gt=0, description="a running job whose worker has not reported for this long is claimed again"
    )
    poll_s: float = Field(default=2.0, gt=0, description="how often an idle worker looks for queued jobs")
    cli: str = Field(
        default="", description="the `runyard` command the worker runs (default: next to this Python, else on PATH)"
    )
    check_timeout_s: float = Field(default=15.0, gt=0, description="timeout when checking a remote's URL and key")
    file_workers: int = Field(default=4, ge=1, le=64, description="parallel file copies within one job")

    @field_validator("source_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value[:40]!r}")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: str) -> str:
        if value and is_placeholder(value):
            raise ValueError("still holds a placeholder value")
        return value.strip()

    def runyard_cli(self) -> list[str]:
        """The argv prefix that runs the SDK's `runyard` command."""
        if self.cli:
            return [self.cli]
        beside = Path(sys.executable).with_name("runyard")
        if beside.exists():
            return [str(beside)]
        found = shutil.which("runyard")
        if found:
            return [found]
        return [sys.executable, "-m", "runyard.cli"]


def load_transfer_settings(**overrides: object) -> TransferSettings:
    """From the environment; raises SettingsError naming every bad variable."""
    try:
        return TransferSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = "_".join(str(p) for p in e["loc"]).upper()
            name = f"RUNYARD_{loc}" if loc.startswith("SECRET_KEY") else f"RUNYARD_TRANSFER_{loc}"
            lines.append(f"{name}: {e['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
