"""Resolvers of schema.graphql, one module per area; `bindables` is everything the schema binds."""

from __future__ import annotations

from typing import Any

from . import artifacts, core, files, history, runs

__all__ = ["bindables"]

bindables: list[Any] = [*core.bindables, *runs.bindables, *history.bindables, *files.bindables,
                       *artifacts.bindables]
