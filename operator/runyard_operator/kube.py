"""A small asyncio Kubernetes API client for what the operator does: server-side apply, get, list,
create, merge-patch and delete, for the kinds in kinds.py.

It logs in the way kopf does (the pod's service account, else $KUBECONFIG or ~/.kube/config), through
`kopf.ConnectionInfo`, and logs in again once when a token expired (401). Every failure is an
`ApiError` carrying the HTTP status (0: no answer) and the API server's own message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import kopf

from .errors import ApiError
from .kinds import Kind, kind_of

__all__ = ["KubeClient", "login"]

log = logging.getLogger(__name__)
USER_AGENT = "runyard-operator/0.1.0"


def login(**kwargs: Any) -> kopf.ConnectionInfo:
    """In a pod: its service account. Elsewhere: $KUBECONFIG (or ~/.kube/config), current context.
    Takes kopf's login keyword arguments (settings, logger)."""
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError("no credentials: neither a pod service account nor a kubeconfig was found")
    return info


class KubeClient:
    """`await client.apply(obj)` and friends. One aiohttp session, opened on first use."""

    def __init__(self, credentials: Callable[[], kopf.ConnectionInfo], *, field_manager: str,
                 timeout: float = 30.0) -> None:
        self._credentials = credentials
        self.field_manager = field_manager
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._server = ""
        self._lock = asyncio.Lock()

    async def _open(self, renew: bool = False) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is not None and not renew:
                return self._session
            if self._session is not None:
                await self._session.close()
            info = self._credentials()
            self._server = info.server.rstrip("/")
            ssl_context = info.as_ssl_context() if self._server.startswith("https") else False
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", **info.as_http_headers()},
                connector=aiohttp.TCPConnector(ssl=ssl_context),
                timeout=self._timeout,
            )
            return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json") -> dict[str, Any]:
        """One API call; the decoded answer, or ApiError."""
        for attempt in (0, 1):
            session = await self._open(renew=attempt == 1)
            url = self._server + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": content_type} if data is not None else {}
            try:
                async with session.request(method, url, data=data, headers=headers) as resp:
                    text = await resp.text()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ApiError(f"{method} {path}: no answer from the Kubernetes API ({exc!r})", status=0) from exc
            if status == 401 and attempt == 0:
                continue  # an expired token: log in again, once
            try:
                answer = json.loads(text) if text else {}
            except ValueError:
                answer = {"message": text[:500]}
            if status >= 400:
                message = answer.get("message") or text[:500] or "no message"
                raise ApiError(f"{method} {path}: {status} {message}", status=status,
                               api_reason=str(answer.get("reason", "")))
            return answer  # type: ignore[no-any-return]
        raise AssertionError("unreachable")

    # ---- typed helpers --------------------------------------------------------------------------------

    async def get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", kind.path(namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(self, kind: Kind, namespace: str | None = None,
                   label_selector: str | None = None) -> list[dict[str, Any]]:
        """Items of `kind` in `namespace` (None: every namespace). A kind the cluster does not serve
        (e.g. ServiceMonitor without the Prometheus Operator) lists as empty."""
        params = {"labelSelector": label_selector} if label_selector else None
        try:
            answer = await self.request("GET", kind.path(namespace), params=params)
        except ApiError as exc:
            if exc.status == 404:
                return []
            raise
        return list(answer.get("items") or [])

    async def apply(self, obj: dict[str, Any], *, field_manager: str | None = None) -> dict[str, Any]:
        """Server-side apply (force: the operator owns what it applies; drift is corrected)."""
        kind = kind_of(obj)
        meta = obj["metadata"]
        params = {"fieldManager": field_manager or self.field_manager, "force": "true"}
        return await self.request("PATCH", kind.path(meta.get("namespace"), meta["name"]), params=params,
                                  body=obj, content_type="application/apply-patch+yaml")

    async def create(self, obj: dict[str, Any], *, field_manager: str | None = None) -> dict[str, Any]:
        kind = kind_of(obj)
        params = {"fieldManager": field_manager or self.field_manager}
        return await self.request("POST", kind.path(obj["metadata"].get("namespace")), params=params, body=obj)

    async def merge_patch(self, kind: Kind, namespace: str | None, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", kind.path(namespace, name), params={"fieldManager": self.field_manager},
                                  body=patch, content_type="application/merge-patch+json")

    async def delete(self, kind: Kind, namespace: str | None, name: str, *,
                     propagation: str = "Background") -> bool:
        """Delete; False when it was already gone."""
        try:
            await self.request("DELETE", kind.path(namespace, name),
                               body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation})
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True
