"""Request bodies (responses are plain dicts, documented in docs/artifacts.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ObjectIn(BaseModel):
    sha256: str
    size: int
    md5: str


class FileUploadIn(ObjectIn):
    path: str
    content_type: str | None = None


class FileUploadsIn(BaseModel):
    files: list[FileUploadIn] = Field(max_length=1000)


class FileCommitIn(BaseModel):
    path: str
    sha256: str
    content_type: str | None = None


class FileCommitsIn(BaseModel):
    files: list[FileCommitIn] = Field(max_length=1000)


class ObjectUploadsIn(BaseModel):
    objects: list[ObjectIn] = Field(max_length=1000)


class PartIn(BaseModel):
    number: int
    md5: str


class PartsIn(BaseModel):
    parts: list[PartIn] = Field(max_length=1000)


class CompleteIn(BaseModel):
    parts: list[str] | None = Field(default=None, description="MD5 (hex) of every part, in order")


class ManifestEntryIn(BaseModel):
    path: str
    sha256: str | None = None
    size: int | None = None
    ref: str | None = None
    digest: str | None = Field(default=None, description="a reference's checksum or ETag, when known")


class RunRefIn(BaseModel):
    entity: str | None = None
    project: str | None = None
    run_id: str


class VersionIn(BaseModel):
    type: str
    description: str = Field(default="", max_length=10_000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list, max_length=100)
    run_id: str | None = Field(default=None, description="the producing run, in the artifact's project")
    files: list[ManifestEntryIn] = Field(max_length=1_000_000)


class UseIn(BaseModel):
    run: RunRefIn


class AliasIn(BaseModel):
    version: str


class VersionPatch(BaseModel):
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None
