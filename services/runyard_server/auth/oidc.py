"""OIDC single sign-on (authorization code flow) through Authlib.

Authlib's `AsyncOAuth2Client` builds the authorization URL and exchanges the code at the token
endpoint; the id_token is verified with `joserfc` (Authlib's JOSE library): RS256/ES256 signature
against the provider's JWKS, then `iss`, `aud`, `exp`, `iat` and the `nonce` of this login. The
verified `email` maps to a user (`users.email`, case-insensitive); with `RUNYARD_OIDC_AUTO_CREATE` a
user is created on first sign-in, named after the address' local part.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..common.errors import PermissionDenied, Unauthenticated
from ..common.settings import Settings

_DISCOVERY_TTL_S = 3600


@dataclass
class Pending:
    """What the login request remembers (in the short-lived `runyard_oidc` cookie) for the callback."""

    state: str
    nonce: str
    next_path: str


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._meta: dict[str, Any] | None = None
        self._jwks: KeySet | None = None
        self._loaded_at = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.settings.oidc_client_id)

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None or time.monotonic() - self._loaded_at > _DISCOVERY_TTL_S:
            async with httpx.AsyncClient(timeout=10) as client:
                resp = await client.get(self.issuer + "/.well-known/openid-configuration")
                resp.raise_for_status()
                meta = resp.json()
                jwks = (await client.get(meta["jwks_uri"])).raise_for_status().json()
            if meta.get("issuer", "").rstrip("/") != self.issuer:
                raise Unauthenticated("the identity provider's discovery document names another issuer")
            self._meta, self._jwks, self._loaded_at = meta, KeySet.import_key_set(jwks), time.monotonic()
        return self._meta

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id, client_secret=self.settings.oidc_client_secret,
            scope=self.settings.oidc_scopes, redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_post", timeout=10,
        )

    async def authorization_url(self, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        meta = await self.metadata()
        pending = Pending(secrets.token_urlsafe(24), secrets.token_urlsafe(24), next_path)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=pending.state, nonce=pending.nonce
            )
        return url, pending

    async def email_from_code(self, code: str, redirect_uri: str, nonce: str) -> str:
        """Exchange the code, verify the id_token, return its (verified) email, lower-cased."""
        meta = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(meta["token_endpoint"], code=code, grant_type="authorization_code")
            except Exception as exc:  # OAuth errors, transport errors: one clear refusal
                raise Unauthenticated(f"the identity provider refused the sign-in: {exc}") from None
        raw = token.get("id_token")
        if not raw:
            raise Unauthenticated("the identity provider sent no id_token")
        claims = self._verify(str(raw), nonce)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise Unauthenticated("the identity provider sent no email address (ask for the `email` scope)")
        if claims.get("email_verified") is False:
            raise Unauthenticated("the identity provider says this email address is not verified")
        email = email.strip().lower()
        allowed = [d.strip().lower() for d in self.settings.oidc_allowed_domains.split(",") if d.strip()]
        if allowed and email.rsplit("@", 1)[1] not in allowed:
            raise PermissionDenied("single sign-on is not open to this email domain")
        return email

    def _verify(self, raw: str, nonce: str) -> dict[str, Any]:
        assert self._jwks is not None
        try:
            tok = jwt.decode(raw, self._jwks, algorithms=["RS256", "ES256", "PS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.settings.oidc_client_id},
                exp={"essential": True}, iat={"essential": True},
                nonce={"essential": True, "value": nonce},
                leeway=60,
            ).validate(tok.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"the id_token is not valid: {exc}") from None
        return dict(tok.claims)


def username_for(email: str) -> str:
    """A valid username from an email's local part (`Ada.Lovelace+x@corp` -> `ada.lovelace-x`)."""
    local = email.split("@", 1)[0].lower()
    name = re.sub(r"[^a-z0-9_.-]", "-", local).strip("-_.")[:56] or "user"
    if not name[0].isalnum():
        name = "u" + name
    return name
