"""Shared helpers for the cross-part tests (the embedded stack, service subprocesses)."""

from .stack import INGEST_TEST_ENV, TestStack

__all__ = ["INGEST_TEST_ENV", "TestStack"]
