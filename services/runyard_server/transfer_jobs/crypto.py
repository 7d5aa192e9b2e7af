"""The API keys of remote instances, encrypted at rest with the instance's secret key (AES-256-GCM).

The secret key is RUNYARD_SECRET_KEY (base64 of 32 random bytes) or the file RUNYARD_SECRET_KEY_FILE
names (`runyard-server local` makes `<data dir>/secret.key` on first start, mode 0600; the Helm chart
mounts a Secret). A stored key is `nonce (12 bytes) || ciphertext || tag`, with the remote's name as
associated data, so a ciphertext copied onto another row does not decrypt. Keys are decrypted only by the
worker, at the moment it starts a copy, and handed to the `runyard` command through its environment.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..common.errors import FailedPrecondition
from .settings import TransferSettings

__all__ = ["SecretBox", "SecretKeyMissing", "generate_key_file", "key_hint", "load_box"]

_NONCE = 12


class SecretKeyMissing(FailedPrecondition):
    """No RUNYARD_SECRET_KEY: remote instances cannot be registered or used."""


def _decode(text: str, where: str) -> bytes:
    raw = text.strip()
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            key = decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(key) == 32:
            return key
    raise SecretKeyMissing(f"{where} must hold 32 random bytes in base64 (44 characters), e.g. the output of "
                           "`python -c \"import secrets,base64;print(base64.b64encode(secrets.token_bytes(32)).decode())\"`")


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, box: bytes, context: str) -> str:
        try:
            return self._aead.decrypt(box[:_NONCE], box[_NONCE:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise FailedPrecondition(
                f"the stored key of remote {context!r} does not decrypt with this instance's RUNYARD_SECRET_KEY "
                "(was the secret key changed?); remove the remote and add it again") from None


def load_box(settings: TransferSettings) -> SecretBox:
    """The box of RUNYARD_SECRET_KEY (or RUNYARD_SECRET_KEY_FILE); SecretKeyMissing names what to set."""
    if settings.secret_key:
        return SecretBox(_decode(settings.secret_key, "RUNYARD_SECRET_KEY"))
    if settings.secret_key_file:
        path = Path(settings.secret_key_file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SecretKeyMissing(f"cannot read RUNYARD_SECRET_KEY_FILE {path}: {exc.strerror}") from None
        return SecretBox(_decode(text, f"RUNYARD_SECRET_KEY_FILE ({path})"))
    raise SecretKeyMissing("remote instances need a server secret key to encrypt their API keys: set "
                           "RUNYARD_SECRET_KEY (32 random bytes, base64) or RUNYARD_SECRET_KEY_FILE (the Helm "
                           "chart and `runyard-server local` do this for you)")


def generate_key_file(path: Path) -> Path:
    """Create `path` with a fresh key (mode 0600) unless it exists; returns it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path


def key_hint(key: str) -> str:
    """What may be shown of a key: its first 7 and last 4 characters (`ry-3f9a…x2Qe`)."""
    key = key.strip()
    if len(key) < 16:
        return "…"
    return f"{key[:7]}…{key[-4:]}"
