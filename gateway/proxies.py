"""The client's address behind our own reverse proxies (MOTCUA_TRUSTED_PROXIES).

Wrong-PIN and wrong-key limits count per client address; behind a load balancer every request comes from the
balancer, so without this one citizen's typing errors would lock every citizen out. X-Forwarded-For is read
only when the connection comes from a listed proxy (anyone can send the header), from the right: each proxy
appends the address it was connected from, so the first address that is not one of ours is the client.
"""

import ipaddress
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR ranges; a malformed entry is a configuration error, refused at start-up."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(remote: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str | None:
    """`remote` unless it is a trusted proxy; then the right-most forwarded address that is not one."""
    peer = _address(remote or "")
    if peer is None or not any(peer in network for network in trusted):
        return remote
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote  # a garbled chain: nothing in it can be relied on
        if not any(address in network for network in trusted):
            return str(address)
    return remote  # every hop was one of ours


def client_address_middleware(trusted: tuple[Network, ...]):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if trusted:
            address = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)
            if address != request.remote:
                request = request.clone(remote=address)
        return await handler(request)

    return middleware
