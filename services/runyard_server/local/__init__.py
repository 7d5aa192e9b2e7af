"""Local mode: the embedded PostgreSQL/Redis/S3 stack, the front door, and `runyard-server local`."""

from .embedded import EmbeddedStack, S3Config, StartupError

__all__ = ["EmbeddedStack", "S3Config", "StartupError"]
