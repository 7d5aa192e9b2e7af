"""A tiny but real OpenID Connect provider for tests, served over HTTP on a local port.

Discovery document, authorize endpoint (no login page: it signs in whoever `next_identity()` named),
token endpoint (authorization code grant, client_secret_post or client_secret_basic) issuing RS256-signed
id_tokens, and a JWKS endpoint. Knobs let a test break one thing at a time: a token signed with a key
that is not in the JWKS, a wrong audience, a replayed nonce, an unverified email.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.asgi import serve

__all__ = ["OidcProvider", "running_provider"]


@dataclass
class Identity:
    email: str
    email_verified: bool = True
    sub: str = field(default_factory=lambda: secrets.token_hex(8))


class OidcProvider:
    def __init__(self, client_id: str = "runyard", client_secret: str = "s3cret-client") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.url = ""  # set once serving
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})  # same kid, not published
        self._next: Identity | None = None
        self._codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, str]] = []
        # knobs
        self.sign_with_rogue_key = False
        self.audience: str | None = None
        self.nonce_override: str | None = None

    def next_identity(self, email: str, *, email_verified: bool = True) -> None:
        self._next = Identity(email, email_verified)

    # ---- endpoints ----------------------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        })

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        if "openid" not in (q.get("scope") or "").split():
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        redirect = q.get("redirect_uri") or ""
        if self._next is None:
            return RedirectResponse(redirect + "?" + urlencode({"error": "access_denied", "state": q.get("state", "")}))
        code = secrets.token_urlsafe(16)
        self._codes[code] = {"redirect_uri": redirect, "nonce": q.get("nonce"), "identity": self._next,
                             "at": time.time()}
        return RedirectResponse(redirect + "?" + urlencode({"code": code, "state": q.get("state", "")}), status_code=302)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))  # x-www-form-urlencoded
        self.token_requests.append({k: str(v) for k, v in form.items()})
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self._codes.pop(str(form.get("code", "")), None)  # single use
        if form.get("grant_type") != "authorization_code" or grant is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect_uri"}, status_code=400)
        ident: Identity = grant["identity"]
        now = int(time.time())
        claims = {"iss": self.url, "sub": ident.sub, "aud": self.audience or self.client_id, "iat": now,
                  "exp": now + 300, "nonce": self.nonce_override or grant["nonce"], "email": ident.email,
                  "email_verified": ident.email_verified}
        key = self.rogue_key if self.sign_with_rogue_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, key)
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                             "id_token": id_token, "scope": "openid email profile"})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])


@contextmanager
def running_provider(**kw: Any) -> Iterator[OidcProvider]:
    """Serve a provider on 127.0.0.1:<free port> under uvicorn in a thread."""
    provider = OidcProvider(**kw)
    with serve(provider.app(), lifespan="off", name="the test OIDC provider") as url:
        provider.url = url
        yield provider
