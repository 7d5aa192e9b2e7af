"""Routers of the auth service."""
