"""Where this component's HTTP calls go when it runs on its own (`runyard-server wandb`, a Deployment).

- `RoutedTransport`: each REST call goes to the service that answers its path (`settings.service_for`):
  one base URL for all (`RUNYARD_WANDB_API_URL`, an Ingress or the front door) or one per service
  (`RUNYARD_WANDB_AUTH_URL`, `_QUERY_URL`, `_ARTIFACT_URL`: the Kubernetes Services, no hairpin through
  the Ingress).
- `BucketTransport`: presigned URLs name the bucket's public endpoint (what SDKs and browsers reach,
  `RUNYARD_S3_PUBLIC_ENDPOINT`), which a pod often cannot reach (kind: a port-forward on a laptop). The
  request goes to the internal endpoint (`RUNYARD_S3_ENDPOINT`) with the signed Host header unchanged, so
  the signature still holds.
"""

from __future__ import annotations

import httpx

from .settings import service_for

__all__ = ["BucketTransport", "RoutedTransport"]


def _rebase(request: httpx.Request, base: httpx.URL, *, keep_host: bool) -> None:
    path = base.raw_path.rstrip(b"/") + request.url.raw_path
    request.url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port, raw_path=path)
    if not keep_host:
        request.headers["Host"] = request.url.netloc.decode("ascii")


class RoutedTransport(httpx.AsyncBaseTransport):
    """Sends a request made against any base URL to `bases[service_for(path)]` + path."""

    def __init__(self, bases: dict[str, str]) -> None:
        self._bases = {name: httpx.URL(url) for name, url in bases.items()}
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _rebase(request, self._bases[service_for(request.url.path)], keep_host=False)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class BucketTransport(httpx.AsyncBaseTransport):
    """Requests to `public` (scheme, host and port) go to `internal`, keeping the Host header they were
    signed for."""

    def __init__(self, public: str, internal: str) -> None:
        self._public = httpx.URL(public)
        self._internal = httpx.URL(internal)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url, pub = request.url, self._public
        if (url.scheme, url.host, url.port) == (pub.scheme, pub.host, pub.port):
            _rebase(request, self._internal, keep_host=True)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
