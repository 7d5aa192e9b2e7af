"""The query service: projects, runs and history for the UI and the SDK's public API; serves the UI."""

from .app import create_app

__all__ = ["create_app"]
