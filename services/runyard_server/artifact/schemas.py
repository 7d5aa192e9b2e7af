"""Request and response bodies of the artifact service (what its OpenAPI document shows, docs/artifacts.md).

Responses are validated against these models on the way out, so the document cannot drift from what the
service answers. Shapes that vary with the request (an upload that is `ready` has no URL; a manifest entry
is a stored file or a reference) are one model with optional fields, served with
`response_model_exclude_unset=True`: a field absent from the answer is absent from the JSON, not `null`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..http.schemas import JsonValue, error_responses

# ---- requests ------------------------------------------------------------------------------------


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


class StagedPathsIn(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=1000)


class StagedObject(BaseModel):
    md5: str | None = Field(default=None, description="an artifact file, named by its MD5 (hex or base64)")
    name: str | None = Field(default=None, min_length=1, max_length=1024, description="a scratch document")
    size: int | None = Field(default=None, ge=0)


class StagedObjectsIn(BaseModel):
    objects: list[StagedObject] = Field(min_length=1, max_length=1000)


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
    created_at: datetime | None = Field(default=None, description="when the version was made, with a time zone "
                                        "(a copy from another instance keeps the original's); default: now")


class UseIn(BaseModel):
    run: RunRefIn


class AliasIn(BaseModel):
    version: str


# ---- responses: uploads --------------------------------------------------------------------------


class PartDone(BaseModel):
    number: int
    size: int
    etag: str


class UploadState(BaseModel):
    """An upload session: `pending` until `complete` verified the bytes, then `ready`."""

    sha256: str
    size: int
    state: Literal["pending", "ready", "deleting"]
    upload_id: str | None = Field(default=None, description="pending only: the session to resume or complete")
    method: Literal["put", "multipart"] | None = Field(
        default=None, description="pending only: one presigned PUT, or parts (see `parts_done`)")
    url: str | None = Field(default=None, description="method put: the presigned PUT URL")
    headers: dict[str, str] | None = Field(default=None, description="method put: headers to send with the PUT")
    part_size: int | None = Field(default=None, description="method multipart: bytes per part (the last: the rest)")
    part_count: int | None = Field(default=None, description="method multipart")
    parts_done: list[PartDone] | None = Field(default=None, description="method multipart: parts the bucket holds")


class FileUploadState(UploadState):
    path: str


class FileUploadsOut(BaseModel):
    files: list[FileUploadState]


class ObjectUploadsOut(BaseModel):
    objects: list[UploadState]


class PartUrl(BaseModel):
    number: int
    url: str
    headers: dict[str, str] = Field(description="the signed Content-MD5: send it with the PUT")


class PartUrlsOut(BaseModel):
    parts: list[PartUrl]


# ---- responses: staged uploads (staging.py) -------------------------------------------------------


class StagedFile(BaseModel):
    path: str
    url: str = Field(description="presigned PUT URL of a fresh staging key")
    headers: dict[str, str]
    expires_in: int


class StagedFilesOut(BaseModel):
    files: list[StagedFile]


class StagedFileState(BaseModel):
    """A path whose newest staged upload was adopted (`ready`, with the run file's record) or `missing`."""

    path: str
    state: Literal["ready", "missing"]
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    content_type: str | None = None
    uploaded_at: str | None = None


class StagedFileStatesOut(BaseModel):
    files: list[StagedFileState]


class StagedObjectState(BaseModel):
    """An artifact file by MD5 (`ready`: stored, with its sha256; `pending`: PUT it to `url`; `missing`:
    nothing staged) or a scratch document by name (`scratch`: PUT to `url`, read from `get_url`)."""

    state: Literal["ready", "pending", "missing", "scratch"]
    md5: str | None = None
    name: str | None = None
    sha256: str | None = None
    size: int | None = None
    url: str | None = None
    get_url: str | None = None
    headers: dict[str, str] | None = None
    expires_in: int | None = None


class StagedObjectsOut(BaseModel):
    objects: list[StagedObjectState]


# ---- responses: run files ------------------------------------------------------------------------


class RunFile(BaseModel):
    path: str
    size: int
    sha256: str
    md5: str = Field(description="hex MD5 of the bytes (what W&B's clients compare)")
    content_type: str
    uploaded_at: str


class RunFileLink(RunFile):
    url: str = Field(description="presigned GET URL of the bytes")
    expires_in: int = Field(description="seconds the URL stays valid")


class RunFilesOut(BaseModel):
    files: list[RunFile]


class FileFolder(BaseModel):
    name: str
    path: str = Field(description="the folder's prefix, ending with '/'")
    file_count: int
    size: int
    updated_at: str


class FileList(BaseModel):
    prefix: str
    folders: list[FileFolder]
    files: list[RunFile]
    total: int = Field(description="files under `prefix` (all pages)")


# ---- responses: artifacts ------------------------------------------------------------------------


class StorageBytes(BaseModel):
    bytes: int = Field(description="bytes of the distinct objects")
    objects: int
    logical_bytes: int = Field(description="bytes as logged, before deduplication")


class StorageOut(BaseModel):
    entity: str
    project: str
    bytes: int
    objects: int
    run_files: StorageBytes
    artifacts: StorageBytes


class ArtifactSummary(BaseModel):
    name: str
    type: str
    description: str
    version_count: int
    latest: str | None = Field(description="`vN` that `latest` names")
    created_at: str
    updated_at: str


class ArtifactList(BaseModel):
    artifacts: list[ArtifactSummary]


class VersionRef(BaseModel):
    entity: str
    project: str
    name: str
    type: str
    version: str = Field(examples=["v3"])
    digest: str
    size: int
    qualified_name: str = Field(examples=["ada/mnist/dataset:v3"])


class Version(VersionRef):
    version_index: int
    file_count: int
    description: str
    metadata: dict[str, JsonValue]
    aliases: list[str]
    created_at: str


class LoggedVersion(Version):
    created: bool = Field(description="false when the manifest equals the newest version's (nothing created)")


class RunRef(BaseModel):
    entity: str
    project: str
    run_id: str


class Consumer(RunRef):
    used_at: str


class VersionDetail(Version):
    created_by_run: RunRef | None
    used_by: list[Consumer]


class ArtifactOut(BaseModel):
    name: str
    type: str
    description: str
    created_at: str
    versions: list[Version]


class ManifestFile(BaseModel):
    """A stored file (`sha256`) or a reference (`ref`, `digest`)."""

    path: str
    size: int | None
    sha256: str | None = None
    md5: str | None = Field(default=None, description="stored files: the MD5 of the bytes (W&B digests)")
    ref: str | None = None
    digest: str | None = None
    url: str | None = Field(default=None, description="stored files, when asked: presigned GET URL")


class ManifestFileLink(ManifestFile):
    expires_in: int | None = Field(default=None, description="with `url`: seconds it stays valid")


class VersionFiles(BaseModel):
    version: str
    digest: str
    files: list[ManifestFile]
    total: int
    expires_in: int | None = Field(description="with urls=true: seconds the URLs stay valid")


class AliasOut(BaseModel):
    alias: str
    version: str


class RunArtifacts(BaseModel):
    logged: list[VersionRef]
    used: list[VersionRef]


ERROR_RESPONSES = error_responses(400, 401, 403, 404, 409, 413, 422)

class VersionPatch(BaseModel):
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None
