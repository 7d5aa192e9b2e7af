"""Moving bytes between this machine and the bucket with presigned URLs (used by `runyard.artifacts`).

The server never sees the bytes: it hands out URLs, and checks the result. Integrity:
  - every file is hashed once (sha256 + MD5) before its upload starts; the server keys objects by sha256
    and tells us which ones it already has (those are not sent again);
  - while sending, the bytes are hashed again in the same pass (sha256 of the whole file, MD5 of each
    part); each presigned PUT signs the Content-MD5 of what we send, so the bucket refuses any other
    bytes, and we refuse to complete an upload whose file changed since it was hashed;
  - `complete` makes the server compare the bucket's part list (sizes, ETags = MD5s) with ours;
  - downloads are hashed as they are written and must match the manifest's sha256.
Multipart uploads resume: the server keeps the upload id per object and returns the parts the bucket
already holds (ListParts); only the others are sent, after checking their MD5 against the local file.

Outages: with an `Outage` (artifact uploads get one, `RUNYARD_UPLOAD_WAIT` seconds, default 600), a
server or bucket that does not answer (connection refused or reset, 5xx, 429) is waited out: every
request retries every second for the first 10 s of an outage, then less often (at most every
10 s); the threads of one transfer share one deadline, and the console says once that it waits,
every 30 s how long so far, and when the far side is back. Parts already sent stay sent, so the upload
goes on where it stopped; only when the wait is used up does the call raise (and a later call resumes
from the parts the bucket has). A bucket that restarted and forgot an unfinished multipart upload
(an in-memory store) makes the upload begin again from what the server says the bucket holds.

The API key travels only to the Runyard server, never to the bucket (two separate HTTP clients).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from . import _console
from ._http import auth_headers, error_detail
from .errors import AuthenticationError, CommError, ServerError, error_for_status

__all__ = [
    "Api",
    "IntegrityError",
    "LocalFile",
    "Outage",
    "TransferStats",
    "UploadLost",
    "download_url",
    "ensure_uploaded",
    "hash_file",
]

READ_CHUNK = 8 * 1024 * 1024
RANGED_DOWNLOAD_ABOVE = 64 * 1024 * 1024
RANGE_SIZE = 16 * 1024 * 1024
UPLOADS = "/api/v1/artifacts/_uploads"
_RETRY_STATUS = {500, 502, 503, 504}


class IntegrityError(CommError):
    """Bytes did not match their checksum (a file changed while uploading, or a corrupt download)."""


class UploadLost(CommError):
    """The bucket no longer knows a multipart upload (it restarted without keeping it, or it expired):
    the upload starts again from what the server says the bucket holds."""


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    sha256: str
    md5: str


@dataclass
class TransferStats:
    objects: int = 0              # distinct objects considered
    deduplicated: int = 0         # already stored: not sent
    uploaded: int = 0             # sent (single PUT or multipart)
    parts_uploaded: int = 0
    parts_skipped: int = 0        # already in the bucket from an interrupted upload
    bytes_uploaded: int = 0
    bytes_downloaded: int = 0
    seconds: float = 0.0
    outages: int = 0              # outages of the server or bucket waited out
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **kw: int) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


class Outage:
    """How long the far side has been away, shared by the threads of one transfer; says so on the
    console. `failed()` returns how long to sleep before the next try, or None once `wait` is spent."""

    SAY_EVERY_S = 30.0
    MAX_BACKOFF_S = 10.0

    def __init__(self, wait: float, what: str, say: Callable[[str], None] = _console.warn) -> None:
        self.wait = wait
        self.what = what
        self._say = say
        self._lock = threading.Lock()
        self._since: float | None = None
        self._said = 0.0
        self._tries = 0
        self.outages = 0  # how many outages this transfer waited out (tests and stats read it)

    def failed(self, side: str, problem: str) -> float | None:
        with self._lock:
            now = time.monotonic()
            if self._since is None:
                self._since, self._said, self._tries = now, now, 0
                self.outages += 1
                self._say(f"{self.what}: {side} does not answer ({problem}); waiting up to {self.wait:.0f} s "
                          "for it (RUNYARD_UPLOAD_WAIT), then the upload goes on where it stopped")
            waited = now - self._since
            if waited >= self.wait:
                return None
            if now - self._said >= self.SAY_EVERY_S:
                self._said = now
                self._say(f"{self.what}: still waiting for {side} ({waited:.0f} s of {self.wait:.0f} s; {problem})")
            self._tries += 1
            # every second at first (short outages end soon and should cost no more), then less often
            delay = 1.0 if waited < 10 else min(self.MAX_BACKOFF_S, waited / 5)
            return min(delay, max(0.1, self.wait - waited))

    def ok(self) -> None:
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._since is not None:
                self._say(f"{self.what}: reachable again after {time.monotonic() - self._since:.0f} s; going on")
                self._since = None

    def say(self, message: str) -> None:
        self._say(f"{self.what}: {message}")

    def waited(self) -> float:
        with self._lock:
            return 0.0 if self._since is None else time.monotonic() - self._since


def _problem(exc: BaseException | None, status: int | None = None) -> str:
    if status is not None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {exc}" if exc is not None and str(exc) else type(exc).__name__


class Api:
    """The few REST calls to the Runyard server, with retries on network errors and 5xx (and, with an
    `outage`, waiting out an outage of the server or the bucket)."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 60.0, workers: int = 4,
                 outage: Outage | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.outage = outage
        headers = auth_headers(api_key)
        limits = httpx.Limits(max_connections=max(4, workers * 2), max_keepalive_connections=max(4, workers * 2))
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), headers=headers, limits=limits)
        # the bucket gets its own client: no Authorization header, no cookies
        self.bucket = httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0), limits=limits)

    def close(self) -> None:
        self.client.close()
        self.bucket.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, what: str, json: Any = None, params: dict[str, Any] | None = None,
             retries: int = 4, patient: bool = True) -> Any:
        """One REST call. Transient failures are retried `retries` times, or, with an outage and
        `patient`, for as long as the outage allows."""
        url = self.base_url + path
        outage = self.outage if patient else None
        attempt = 0
        while True:
            try:
                resp = self.client.request(method, url, json=json, params=params)
            except httpx.TransportError as exc:
                delay = _retry_delay(outage, attempt, retries, f"the Runyard server {self.base_url}", _problem(exc))
                if delay is not None:
                    time.sleep(delay)
                    attempt += 1
                    continue
                raise CommError(f"{what}: cannot reach {self.base_url}: {exc}"
                                + _gave_up(outage)) from exc
            if resp.status_code in _RETRY_STATUS or resp.status_code == 429:
                # a 500 is a bug of the server, not an outage: retried a few times only
                delay = _retry_delay(None if resp.status_code == 500 else outage, attempt, retries,
                                     f"the Runyard server {self.base_url}", _problem(None, resp.status_code), resp)
                if delay is not None:
                    time.sleep(delay)
                    attempt += 1
                    continue
            elif outage is not None:
                outage.ok()
            if resp.status_code >= 400:
                detail, code = error_detail(resp)
                if resp.status_code == 401:
                    raise AuthenticationError(f"{what}: the API key was refused by {self.base_url}: {detail}",
                                              status=401, code=code, detail=detail)
                suffix = _gave_up(outage) if resp.status_code in _RETRY_STATUS or resp.status_code == 429 else ""
                raise error_for_status(resp.status_code, f"{what} failed ({resp.status_code}): {detail}{suffix}",
                                       code=code, detail=detail)
            if resp.status_code == 204 or not resp.content:
                return None
            return resp.json()


def _retry_delay(outage: Outage | None, attempt: int, retries: int, side: str, problem: str,
                 resp: httpx.Response | None = None) -> float | None:
    """Seconds to sleep before retrying, or None to give up."""
    if outage is not None:
        delay = outage.failed(side, problem)
        if delay is not None and resp is not None:
            after = resp.headers.get("retry-after", "")
            if after.isdigit():  # the server knows better, within the backoff cap
                delay = min(max(delay, float(after)), Outage.MAX_BACKOFF_S)
        return delay
    if attempt < retries:
        return min(8.0, 0.5 * 2**attempt)
    return None


def _gave_up(outage: Outage | None) -> str:
    if outage is None:
        return ""
    return (f" (gave up after waiting {outage.wait:.0f} s; RUNYARD_UPLOAD_WAIT sets how long; "
            "the parts already stored are kept and the next try resumes from them)")


# ---- hashing ----------------------------------------------------------------------------------------
_hash_cache: dict[tuple[str, int, int], LocalFile] = {}
_hash_lock = threading.Lock()


def hash_file(path: str | os.PathLike[str]) -> LocalFile:
    """sha256 and MD5 of a file in one pass (cached by path, size and mtime within this process)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        hit = _hash_cache.get(key)
    if hit is not None:
        return hit
    sha, md5 = hashlib.sha256(), hashlib.md5()
    size = 0
    with open(p, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    out = LocalFile(p, size, sha.hexdigest(), md5.hexdigest())
    with _hash_lock:
        if len(_hash_cache) > 10_000:
            _hash_cache.clear()
        _hash_cache[key] = out
    return out


def hash_files(paths: Sequence[str | os.PathLike[str]], workers: int = 4) -> list[LocalFile]:
    if len(paths) <= 1:
        return [hash_file(p) for p in paths]
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runyard-hash") as ex:
        return list(ex.map(hash_file, paths))


# ---- upload -----------------------------------------------------------------------------------------
Body = bytes | Callable[[], Iterator[bytes]]


def _put(api: Api, url: str, headers: dict[str, str], body: Body, what: str, retries: int = 3) -> httpx.Response:
    attempt = 0
    side = "the storage endpoint"
    while True:
        try:
            resp = api.bucket.put(url, content=body if isinstance(body, bytes) else body(), headers=headers)
        except httpx.LocalProtocolError as exc:  # the body was not Content-Length long: the file changed
            raise IntegrityError(f"{what}: the file changed while it was being uploaded ({exc})") from exc
        except httpx.TransportError as exc:
            delay = _retry_delay(api.outage, attempt, retries, side, _problem(exc))
            if delay is not None:
                time.sleep(delay)
                attempt += 1
                continue
            raise CommError(f"{what}: the storage endpoint did not take the bytes: {exc}"
                            + _gave_up(api.outage)) from exc
        if resp.status_code in _RETRY_STATUS or resp.status_code == 429:
            delay = _retry_delay(api.outage, attempt, retries, side, _problem(None, resp.status_code), resp)
            if delay is not None:
                time.sleep(delay)
                attempt += 1
                continue
        elif api.outage is not None:
            api.outage.ok()
        if resp.status_code == 404 and "NoSuchUpload" in resp.text:
            raise UploadLost(f"{what}: the storage endpoint no longer knows this upload (NoSuchUpload)")
        if resp.status_code == 400 and "BadDigest" in resp.text:
            raise IntegrityError(f"{what}: the bytes sent differ from the bytes hashed (the file changed?)")
        if resp.status_code >= 300:
            suffix = _gave_up(api.outage) if resp.status_code in _RETRY_STATUS or resp.status_code == 429 else ""
            raise ServerError(f"{what}: the storage endpoint refused the upload ({resp.status_code}): "
                              f"{resp.text[:300]}{suffix}", status=resp.status_code)
        return resp


def _file_chunks(path: Path, size: int) -> Callable[[], Iterator[bytes]]:
    def gen() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            left = size
            while left > 0:
                chunk = fh.read(min(1024 * 1024, left))
                if not chunk:
                    raise IntegrityError(f"{path} shrank while it was being uploaded; save it again")
                left -= len(chunk)
                yield chunk
    return gen


def _upload_single(api: Api, item: dict[str, Any], f: LocalFile, stats: TransferStats) -> None:
    """Stream the file to its presigned URL. The URL signs the MD5 hashed before, so the bucket refuses
    the bytes (BadDigest) if the file changed since; nothing needs hashing twice."""
    headers = dict(item["headers"], **{"Content-Length": str(f.size)})
    try:
        _put(api, item["url"], headers, _file_chunks(f.path, f.size), f"uploading {f.path.name}")
    except IntegrityError:
        api.call("DELETE", f"{UPLOADS}/{item['upload_id']}", what="aborting an upload", retries=1, patient=False)
        raise
    stats.add(bytes_uploaded=f.size)
    api.call("POST", f"{UPLOADS}/{item['upload_id']}/complete", json={}, what=f"completing {f.path.name}")
    stats.add(uploaded=1)


def _upload_multipart(api: Api, item: dict[str, Any], f: LocalFile, stats: TransferStats, workers: int,
                      on_part: Callable[[int, int], None] | None) -> None:
    upload_id = item["upload_id"]
    part_size, n_parts = int(item["part_size"]), int(item["part_count"])
    done = {int(p["number"]): p for p in item.get("parts_done", [])}
    sha = hashlib.sha256()
    md5s = [""] * n_parts

    def send(number: int, data: bytes, url: str, headers: dict[str, str]) -> tuple[int, int]:
        _put(api, url, headers, data, f"uploading part {number} of {f.path.name}")
        stats.add(parts_uploaded=1, bytes_uploaded=len(data))  # counted even if the caller is interrupted
        return number, len(data)

    ex = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runyard-part")
    inflight: set[cf.Future[tuple[int, int]]] = set()
    batch: list[tuple[int, bytes]] = []  # read and hashed, waiting for URLs (one request per batch)

    def reap() -> None:
        finished, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
        for fut in finished:
            inflight.discard(fut)
            number, size = fut.result()
            if on_part is not None:
                on_part(number, size)

    def flush() -> None:
        if not batch:
            return
        urls = api.call("POST", f"{UPLOADS}/{upload_id}/parts",
                        json={"parts": [{"number": n, "md5": md5s[n - 1]} for n, _ in batch]},
                        what="asking for part URLs")["parts"]
        for (number, data), part in zip(batch, urls, strict=True):
            while len(inflight) >= workers:
                reap()
            inflight.add(ex.submit(send, number, data, part["url"], dict(part["headers"])))
        batch.clear()

    try:
        with open(f.path, "rb") as fh:
            for number in range(1, n_parts + 1):
                data = fh.read(part_size)
                sha.update(data)
                md5 = md5s[number - 1] = hashlib.md5(data).hexdigest()
                prev = done.get(number)
                if prev is not None and prev.get("etag") == md5 and int(prev.get("size", -1)) == len(data):
                    stats.add(parts_skipped=1)  # already in the bucket, and it is our bytes
                    continue
                batch.append((number, data))
                if len(batch) >= workers:
                    flush()
            if fh.read(1):
                raise IntegrityError(f"{f.path} grew while it was being uploaded; save it again")
        flush()
        while inflight:
            reap()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
    if sha.hexdigest() != f.sha256:
        api.call("DELETE", f"{UPLOADS}/{upload_id}", what="aborting an upload", retries=1, patient=False)
        raise IntegrityError(f"{f.path} changed while it was being uploaded; save it again")
    api.call("POST", f"{UPLOADS}/{upload_id}/complete", json={"parts": md5s}, what=f"completing {f.path.name}")
    stats.add(uploaded=1)


BeginFn = Callable[[list[LocalFile]], list[dict[str, Any]]]


def ensure_uploaded(api: Api, begin: BeginFn, files: Sequence[LocalFile], *, workers: int = 4,
                    on_part: Callable[[int, int], None] | None = None,
                    stats: TransferStats | None = None) -> TransferStats:
    """Make sure the bucket holds every file's bytes: ask `begin` which are missing, send only those.

    `begin` posts a batch to the server's begin endpoint and returns one result per file
    (`state: ready` or upload instructions). Small files go up in parallel; a multipart file sends
    `workers` parts at a time.
    """
    stats = stats or TransferStats()
    t0 = time.perf_counter()
    unique = list({f.sha256: f for f in files}.values())
    stats.add(objects=len(unique))
    for start in range(0, len(unique), 1000):
        batch = unique[start:start + 1000]
        results = _begin_retrying(begin, batch)
        singles, multis = [], []
        for f, r in zip(batch, results, strict=True):
            if r["state"] == "ready":
                stats.add(deduplicated=1)
            elif r.get("method") == "multipart":
                multis.append((r, f))
            else:
                singles.append((r, f))
        if singles:
            with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runyard-put") as ex:
                for fut in [ex.submit(_upload_single, api, r, f, stats) for r, f in singles]:
                    fut.result()
        for r, f in multis:
            _upload_multipart_again_if_lost(api, begin, r, f, stats, workers, on_part)
    stats.seconds += time.perf_counter() - t0
    return stats


def _upload_multipart_again_if_lost(api: Api, begin: BeginFn, item: dict[str, Any], f: LocalFile,
                                    stats: TransferStats, workers: int,
                                    on_part: Callable[[int, int], None] | None, tries: int = 3) -> None:
    """A bucket that restarted may have forgotten the upload (an in-memory store does): begin again,
    and the server starts a fresh upload or reports the parts the bucket still holds."""
    for attempt in range(tries):
        try:
            _upload_multipart(api, item, f, stats, workers, on_part)
            return
        except UploadLost:
            if attempt == tries - 1:
                raise
            if api.outage is not None:
                api.outage.say(f"the storage endpoint lost the upload of {f.path.name}; starting it again")
            item = _begin_retrying(begin, [f])[0]
            if item["state"] == "ready":
                stats.add(deduplicated=1)
                return


def _begin_retrying(begin: BeginFn, batch: list[LocalFile], tries: int = 10) -> list[dict[str, Any]]:
    """Objects being garbage-collected at this very moment answer 409 failed_precondition: wait, retry."""
    for attempt in range(tries):
        try:
            return begin(batch)
        except ServerError as exc:
            if exc.code != "failed_precondition" or attempt == tries - 1:
                raise
            time.sleep(min(5.0, 0.5 * (attempt + 1)))
    raise AssertionError("unreachable")


# ---- download ---------------------------------------------------------------------------------------
def _get_range(api: Api, url: str, start: int, end: int, fd: int, stats: TransferStats) -> None:
    for attempt in range(4):
        try:
            with api.bucket.stream("GET", url, headers={"Range": f"bytes={start}-{end}"}) as resp:
                if resp.status_code not in (200, 206):
                    raise ServerError(f"download refused by the storage endpoint ({resp.status_code})",
                                      status=resp.status_code)
                # some servers (rclone serve s3) answer a range with 200 + Content-Range: trust the header
                got_range = resp.headers.get("content-range", "")
                if not got_range.startswith(f"bytes {start}-") and (resp.status_code == 206 or start != 0):
                    raise CommError(f"the storage endpoint ignored a Range request ({got_range or 'no Content-Range'})")
                pos = start
                for chunk in resp.iter_raw(1024 * 1024):
                    os.pwrite(fd, chunk, pos)
                    pos += len(chunk)
                if pos != end + 1:
                    raise CommError(f"short read: got bytes {start}-{pos - 1} of {start}-{end}")
                stats.add(bytes_downloaded=pos - start)
                return
        except httpx.TransportError:
            if attempt == 3:
                raise
            time.sleep(0.5 * 2**attempt)


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download_url(api: Api, url: str, dest: str | os.PathLike[str], *, sha256: str | None = None,
                 size: int | None = None, workers: int = 4, stats: TransferStats | None = None) -> Path:
    """GET a presigned URL into `dest` (atomically: a temporary file renamed on success), checking sha256.

    Files above 64 MiB are fetched as parallel ranges.
    """
    stats = stats or TransferStats()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.runyard-{os.getpid()}-{threading.get_ident()}.part")
    try:
        if size is not None and size > RANGED_DOWNLOAD_ABOVE and workers > 1:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.ftruncate(fd, size)
                ranges = [(s, min(size, s + RANGE_SIZE) - 1) for s in range(0, size, RANGE_SIZE)]
                with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runyard-get") as ex:
                    for fut in [ex.submit(_get_range, api, url, a, b, fd, stats) for a, b in ranges]:
                        fut.result()
            finally:
                os.close(fd)
            got = _sha256_of(tmp) if sha256 else None
        else:
            h = hashlib.sha256()
            n = 0
            with api.bucket.stream("GET", url) as resp, open(tmp, "wb") as out:
                if resp.status_code != 200:
                    resp.read()
                    raise ServerError(f"download refused by the storage endpoint ({resp.status_code}): "
                                      f"{resp.text[:200]}", status=resp.status_code)
                for chunk in resp.iter_raw(1024 * 1024):
                    h.update(chunk)
                    out.write(chunk)
                    n += len(chunk)
            stats.add(bytes_downloaded=n)
            if size is not None and n != size:
                raise IntegrityError(f"downloaded {n} bytes of {dest.name}, expected {size}")
            got = h.hexdigest()
        if sha256 and got != sha256:
            raise IntegrityError(f"{dest.name}: sha256 of the downloaded bytes does not match the manifest")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def safe_join(root: Path, rel: str) -> Path:
    """root/rel, refusing paths that would leave root (absolute, `..`, drive letters)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        raise IntegrityError(f"refusing to write {rel!r}: not a plain relative path")
    out = root.joinpath(*parts)
    if not out.resolve().is_relative_to(root.resolve()):
        raise IntegrityError(f"refusing to write {rel!r}: it leaves {root}")
    return out


def iter_batches(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
