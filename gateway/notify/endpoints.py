"""Which push endpoints the gateway will POST to: browsers' push services, never its own network.

A push subscription's endpoint comes from a phone, that is from anyone holding an enrolment link or a
resident's sign-in. Taken as given, it makes the gateway an HTTP client for whoever enrols: loopback
InfluxDB, the broker's admin, the router's page (server-side request forgery). So an endpoint must be
https on a known push service's host (or on a host the operator listed in `notify.push_hosts`), is checked
at enrolment, and is checked again at send time after DNS resolution, so a name that later resolves to a
private address is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.parse
from collections.abc import Sequence

from gateway.errors import EndpointRefused

KNOWN_PUSH_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge and other Chromium browsers
    "android.googleapis.com",
    "push.services.mozilla.com",  # Firefox (updates.push.services.mozilla.com)
    "push.apple.com",  # Safari (web.push.apple.com)
    "notify.windows.com",  # legacy Edge (*.notify.windows.com)
)


def _listed(parts: urllib.parse.SplitResult, allowed: Sequence[str]) -> bool:
    host = (parts.hostname or "").lower()
    return host in allowed or (parts.port is not None and f"{host}:{parts.port}" in allowed)


def check_endpoint(url: str, allowed: Sequence[str] = (), known: Sequence[str] = KNOWN_PUSH_HOSTS) -> None:
    """At enrolment: the shape and the host. Raises EndpointRefused."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as exc:
        raise EndpointRefused(f"not a URL: {exc}") from exc
    if parts.username or parts.password:
        raise EndpointRefused("a push endpoint carries no credentials")
    host = (parts.hostname or "").lower()
    if not host:
        raise EndpointRefused("a push endpoint needs a host")
    if _listed(parts, allowed):
        return  # the operator's own push service: their choice, on their network
    if parts.scheme != "https":
        raise EndpointRefused("a push endpoint must be https")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise EndpointRefused("a push endpoint is a push service's name, not an address")
    if not any(host == k or host.endswith("." + k) for k in known):
        raise EndpointRefused(f"{host} is not a known push service (notify.push_hosts lists others)")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_before_send(
    url: str, allowed: Sequence[str] = (), known: Sequence[str] = KNOWN_PUSH_HOSTS
) -> None:
    """At send time: the enrolment check again (the settings may have changed), then every address the host
    resolves to must be public. Raises EndpointRefused."""
    check_endpoint(url, allowed, known)
    parts = urllib.parse.urlsplit(url)
    if _listed(parts, allowed):
        return
    host = parts.hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise EndpointRefused(f"{host} does not resolve: {exc}") from exc
    for info in infos:
        if not _public(str(info[4][0])):
            raise EndpointRefused(f"{host} resolves to {info[4][0]}, not a public address")
