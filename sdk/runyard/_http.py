"""The few REST calls the SDK core makes (server-info, viewer), with one error mapping.

httpx is imported on first use: `import runyard` stays quick, and offline runs never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from .errors import AuthenticationError, CommError, ServerError, error_for_status

__all__ = ["LOGIN_HINT", "ServerInfo", "auth_headers", "error_detail", "get_json", "server_info", "viewer"]

LOGIN_HINT = "Run `runyard login --host {base} KEY` or set RUNYARD_API_KEY to a valid key."


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def error_detail(resp: httpx.Response) -> tuple[str, str]:
    """(message, code) of an error response: the server's `{detail, code}` body, else its text."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason_phrase, ""
    if isinstance(body, dict):
        return str(body.get("detail") or resp.reason_phrase), str(body.get("code") or "")
    return str(body)[:300], ""


def raise_for(resp: httpx.Response, base_url: str, what: str) -> None:
    if resp.status_code < 400:
        return
    detail, code = error_detail(resp)
    if resp.status_code == 401:
        raise AuthenticationError(
            f"the API key was refused by {base_url}: {detail}. " + LOGIN_HINT.format(base=base_url),
            status=401,
            code=code,
            detail=detail,
        )
    raise error_for_status(
        resp.status_code, f"{what} failed on {base_url} ({resp.status_code}): {detail}", code=code, detail=detail
    )


def get_json(
    client: httpx.Client, base_url: str, path: str, *, what: str, params: dict[str, Any] | None = None
) -> Any:
    import httpx

    try:
        resp = client.get(base_url + path, params=params)
    except httpx.TimeoutException as exc:
        raise CommError(f"{base_url} did not answer in time ({what}: {exc.__class__.__name__})") from exc
    except httpx.HTTPError as exc:
        raise CommError(f"cannot reach {base_url} ({what}: {exc})") from exc
    raise_for(resp, base_url, what)
    try:
        return resp.json()
    except ValueError as exc:
        raise ServerError(f"{what}: {base_url} answered something that is not JSON", status=resp.status_code) from exc


class ServerInfo(dict):  # type: ignore[type-arg]
    @property
    def ingest_address(self) -> str:
        return str(self.get("ingest_address") or "")

    @property
    def ingest_tls(self) -> bool:
        return bool(self.get("ingest_tls"))


def client(timeout: float, api_key: str | None = None) -> httpx.Client:
    import httpx

    return httpx.Client(timeout=timeout, headers=auth_headers(api_key))


def server_info(base_url: str, timeout: float) -> ServerInfo:
    with client(timeout) as c:
        info = get_json(c, base_url, "/api/v1/server-info", what="reading the server info")
    if not isinstance(info, dict) or not info.get("ingest_address"):
        raise ServerError(f"{base_url}/api/v1/server-info did not name an ingest address; is this a Runyard server?")
    return ServerInfo(info)


def viewer(base_url: str, api_key: str, timeout: float) -> dict[str, Any]:
    with client(timeout, api_key) as c:
        who = get_json(c, base_url, "/api/v1/viewer", what="checking the API key")
    if not isinstance(who, dict):
        raise ServerError(f"{base_url}/api/v1/viewer answered an unexpected body")
    return who
