"""The routers behind the web UI's workspace panels, registered together by the app factory:
batched chart history (routes/history_batch.py), batched media history (routes/media_batch.py), saved layouts and shared views (routes/layouts.py)."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import history_batch, layouts, media_batch

ROUTERS: tuple[APIRouter, ...] = (history_batch.router, media_batch.router, layouts.router)
