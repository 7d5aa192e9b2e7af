"""How the bucket serves a stored file to a browser: inline only from an allowlist of harmless types.

Files are user content and the bucket's origin is not ours to harden (a presigned GET cannot add
`X-Content-Type-Options` or a CSP). So a browser renders a file itself only when its type cannot run
script: raster images, plain text and JSON. Everything else comes as `Content-Disposition: attachment`:
PDF keeps its type (the download opens in a PDF viewer), SVG keeps its type (an <img> preview needs it,
and an <img> never runs script), anything else is sent as `application/octet-stream`, so no browser
renders or sniffs it into HTML, XML, XSL or script. The UI reads text files with fetch(), which ignores
the disposition.
"""

from __future__ import annotations

__all__ = ["INLINE_TYPES", "served_as"]

INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif",
    "text/plain", "application/json",
})
# kept as they are but always downloaded on navigation
_TYPED_DOWNLOADS = frozenset({"application/pdf", "image/svg+xml"})
_CHARSET = {"text/plain": "text/plain; charset=utf-8", "application/json": "application/json; charset=utf-8"}


def served_as(content_type: str, *, download: bool = False) -> tuple[str, bool]:
    """(Content-Type to send, attachment?) for a file stored with `content_type`."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in INLINE_TYPES:
        return _CHARSET.get(base, base), download
    if base in _TYPED_DOWNLOADS:
        return base, True
    return "application/octet-stream", True
