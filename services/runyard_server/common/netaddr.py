"""Client addresses behind reverse proxies: which peers are trusted proxies, and who the client is.

`RUNYARD_TRUSTED_PROXIES` lists the proxies (addresses or CIDRs). Only when the direct peer is one of them
is `X-Forwarded-For` read, from the right: each hop a trusted proxy added is skipped, and the first
address that is not a trusted proxy is the client. Anything a client writes into the header itself sits
to the left of that and is never believed. With no trusted proxies (the default) the peer is the client.
"""

from __future__ import annotations

import ipaddress

__all__ = ["Networks", "client_from_forwarded", "is_trusted", "parse_networks"]

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_networks(value: str) -> Networks:
    """`"10.0.0.0/8, 127.0.0.1"` -> networks; ValueError naming the entry that is not an address or CIDR."""
    out = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_trusted(host: str, trusted: Networks) -> bool:
    addr = _address(host)
    return addr is not None and any(addr in net for net in trusted)


def client_from_forwarded(peer: str, forwarded_for: list[str], trusted: Networks) -> str:
    """The client address: `peer` unless it is a trusted proxy, then the right-most untrusted hop of
    `X-Forwarded-For` (all header lines, in order). A hop that is not an address ends the walk there."""
    if not trusted or not is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for line in forwarded_for for h in line.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            break
        client = str(addr)
        if not any(addr in net for net in trusted):
            break
    return client
