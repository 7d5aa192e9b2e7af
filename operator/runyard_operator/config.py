"""The operator's settings, read once from `RUNYARD_OPERATOR_*` environment variables (main.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConfigError", "OperatorConfig", "load_config"]

_REPO = Path(__file__).resolve().parents[2]
_IMAGE_CHART = Path("/opt/runyard/charts/runyard")  # where operator/Dockerfile puts the chart


def _default_chart() -> Path:
    return _IMAGE_CHART if _IMAGE_CHART.is_dir() else _REPO / "charts" / "runyard"


def _default_helm() -> str:
    found = shutil.which("helm")
    if found:
        return found
    return str(_REPO / ".tools" / "bin" / "helm")  # `make helm` in a checkout


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the environment variable."""


class OperatorConfig(BaseSettings):
    """Everything the operator reads from its environment. A bad value fails at start."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_OPERATOR_", extra="ignore")

    chart: Path = Field(default_factory=_default_chart, description="the runyard chart rendered for every instance")
    helm: str = Field(default_factory=_default_helm, description="the helm binary (helm 3.8+ or 4)")
    namespaces: str = Field(
        default="", description="comma-separated namespaces to watch; empty: every namespace (cluster-wide)"
    )
    field_manager: str = Field(default="runyard-operator", min_length=1, max_length=128)
    resync_seconds: float = Field(default=300.0, gt=0, description="drift correction and status refresh period")
    retry_seconds: float = Field(default=10.0, gt=0, description="delay between checks while a rollout progresses")
    helm_timeout_seconds: float = Field(default=60.0, gt=0)
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="/metrics port; 0 turns it off")

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: str) -> str:
        for ns in filter(None, (part.strip() for part in value.split(","))):
            if not ns.replace("-", "").isalnum() or ns != ns.lower() or len(ns) > 63:
                raise ValueError(f"{ns!r} is not a namespace name")
        return value

    @property
    def watched_namespaces(self) -> list[str]:
        return [ns for ns in (part.strip() for part in self.namespaces.split(",")) if ns]

    def check(self) -> None:
        """Fail at start, naming the variable, when the chart or helm is missing."""
        if not (self.chart / "Chart.yaml").is_file():
            raise ConfigError(f"RUNYARD_OPERATOR_CHART: no chart at {self.chart} (it must hold Chart.yaml)")
        if not (Path(self.helm).is_file() or shutil.which(self.helm)):
            raise ConfigError(f"RUNYARD_OPERATOR_HELM: no helm binary at {self.helm!r} (`make helm` installs one)")


def load_config() -> OperatorConfig:
    try:
        return OperatorConfig()
    except ValidationError as exc:
        lines = [f"RUNYARD_OPERATOR_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid operator settings:\n  " + "\n  ".join(lines)) from None
