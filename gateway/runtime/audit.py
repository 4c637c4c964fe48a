"""Settings that leave a site open: what `guardian check-config` warns about, and what refuses a start.

Out-of-the-box stacks in this field run an anonymous broker and an unauthenticated database; a spoofed
"all clear" or a forged door event is a safety problem, and door events are personal data. Findings name
the setting and never print a secret's value.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import stat
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from gateway.config.settings import Settings
from gateway.errors import ConfigError
from gateway.mqtt.client import probe_connect
from gateway.net.tls import client_context

PLACEHOLDERS = frozenset(
    {"password", "passw0rd", "secret", "admin", "guardian", "default", "todo", "test", "none", "null",
     "123456", "12345678"}
)  # fmt: skip
_MARKERS = ("changeme", "change-me", "change_me", "placeholder", "example", "<", "${", "your-", "your_")
"""Whole values that are placeholders, and fragments that mark a template's placeholder anywhere."""
MIN_SECRET = 12


def _secrets(settings: Settings) -> list[tuple[str, SecretStr]]:
    candidates = {
        "mqtt.password": settings.mqtt.password,
        "influx.password": settings.influx.password,
        "influx.token": settings.influx.token,
        "notify.link_secret": settings.notify.link_secret,
        "notify.webhook_secret": settings.notify.webhook_secret,
    }
    return [(name, value) for name, value in candidates.items() if value is not None]


def placeholder_secrets(settings: Settings) -> list[str]:
    """Secrets no deployment should run with: left as a template's placeholder, or too short."""
    found = []
    for name, secret in _secrets(settings):
        value = secret.get_secret_value().strip()
        lowered = value.lower()
        if lowered in PLACEHOLDERS or any(m in lowered for m in _MARKERS) or len(set(value)) < 4:
            found.append(f"{name}: a placeholder, not a secret")
        elif len(value) < MIN_SECRET:
            found.append(f"{name}: {len(value)} characters; a secret needs at least {MIN_SECRET}")
    return found


def refuse_placeholders(settings: Settings) -> None:
    found = placeholder_secrets(settings)
    if found:
        raise ConfigError(
            "refusing to start with placeholder secrets (set real ones in GUARDIAN_SECRETS_DIR files):\n  "
            + "\n  ".join(found)
        )


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plain_http_away(url: str) -> bool:
    """Plain http to another machine: whatever it carries crosses the network in clear."""
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback(parts.hostname or "")


def weak_settings(settings: Settings, secrets_dir: Path | None = None) -> list[str]:
    """Each a sentence an operator can act on, naming the setting."""
    weak: list[str] = []
    m, i, n = settings.mqtt, settings.influx, settings.notify
    if m.username is None:
        weak.append(
            "mqtt: the gateway connects without a username, so the broker must accept anonymous clients: "
            "anyone who reaches it can publish readings or a spoofed all-clear (guardian devices provision)"
        )
    if not m.tls and not is_loopback(m.host):
        weak.append(
            f"mqtt: {m.host} is not this machine and mqtt.tls is off: passwords and readings in clear"
        )
    if i.token is None and (i.username is None or i.password is None):
        weak.append("influx: no username/password or token, so InfluxDB must accept anyone (door events!)")
    if _plain_http_away(i.url):
        weak.append(f"influx: {i.url} is not this machine and not https: credentials and data in clear")
    if not is_loopback(settings.http.host) and settings.http.cert_file is None:
        weak.append(
            f"http: the API listens on {settings.http.host} without TLS: set http.cert_file/key_file "
            "or put a TLS proxy in front"
        )
    if _plain_http_away(n.public_url):
        weak.append(
            f"notify.public_url {n.public_url} is plain http: acknowledgement links travel in clear, "
            "and phones refuse push on http"
        )
    for url in n.webhooks:
        if _plain_http_away(url):
            weak.append(f"notify.webhooks: http://{urlsplit(url).hostname}… is plain http")
    if secrets_dir is not None and secrets_dir.is_dir():
        for path in [secrets_dir, *secrets_dir.iterdir()]:
            if path.name.startswith(".") and path != secrets_dir:
                continue
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO) & ~(stat.S_IXGRP | stat.S_IXOTH):
                weak.append(f"secrets: {path} is readable by other users (chmod 600, folder 700)")
    return weak


async def probe(settings: Settings) -> list[str]:
    """Ask the servers themselves: does the broker take anonymous clients, does InfluxDB answer anyone, is
    the gateway's InfluxDB user an admin (a leaked password would then hand over every database)?

    Never with the gateway's own login: the broker makes the client id the username, so that connection
    would take over the running gateway's session.
    """
    found: list[str] = []
    m = settings.mqtt
    tls = client_context(m.ca_file, m.cert_file, m.key_file) if m.tls else None
    try:
        reason = await probe_connect(m.host, m.port, client_id="guardian-check-config", tls=tls)
        if reason == 0:
            found.append(f"mqtt: the broker at {m.host}:{m.port} accepts anonymous clients")
    except (OSError, TimeoutError, ConnectionError) as exc:
        found.append(f"mqtt: cannot reach {m.host}:{m.port}: {exc}")
    i = settings.influx
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(base_url=i.url, timeout=5.0, verify=client_context(i.ca_file)) as client:
            answer = await client.get("/query", params={"q": "SHOW DATABASES"})
            if answer.status_code == 200 and "error" not in answer.text:
                found.append(f"influx: {i.url} answers queries without credentials")
            elif i.username and i.password and i.kind == "influxdb":  # only an admin may list users
                login = (i.username, i.password.get_secret_value())
                users = await client.get("/query", params={"q": "SHOW USERS"}, auth=login)
                if users.status_code == 200 and "error" not in users.text:
                    found.append(
                        f"influx: the gateway's user {i.username!r} is an InfluxDB admin: give it ALL on its "
                        "database only (guardian influx provision)"
                    )
    return found


def probe_now(settings: Settings) -> list[str]:
    return asyncio.run(probe(settings))
