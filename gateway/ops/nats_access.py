"""The same identities on NATS: each device may publish only its own subjects, over MQTT only.

`guardian devices provision --nats` (and every later rotate or revoke, once the file exists) writes, next to
Mosquitto's files in the access folder:

    nats-passwd      user:MOSQUITTO_HASH:BCRYPT_HASH, a cache so a device's bcrypt hash is made once (it is
                     made again when the Mosquitto hash changes, i.e. the password was rotated)
    nats-auth.conf   an `authorization { users = [...] }` block to `include` in every node's configuration

NATS's config has no `%u` pattern outside JWT accounts, so each device gets its own permission, and a tighter
one than Mosquitto's: the device's site is pinned too (`guardian.t1.sensor.s-00001.*`, the subjects NATS
makes of its MQTT topics). Devices subscribe to nothing and may not connect with the NATS protocol
(`allowed_connection_types: ["MQTT"]`), so a leaked detector password cannot read the district's streams or
call the JetStream API. The gateway's account keeps full access: it runs the streams, leases and snapshots.

Passwords are NATS's bcrypt at cost 4 (its minimum, ~1 ms): the passwords are 192 random bits, so stretching
adds nothing, while a reconnect storm of 100,000 devices costs the cluster ~100 CPU-seconds instead of hours
at the default cost 11. The hashes come from the installer files, which hold the password in clear.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from gateway.errors import ConfigError
from gateway.ops.broker_access import (
    CONCENTRATOR,
    EDGE,
    GATEWAY,
    MONITOR,
    SIMULATOR,
    BrokerAccess,
    Device,
    devices_of,
    write_atomic,
)
from sensors.registry import SiteRegistry

COST = 4
AUTH_FILE = "nats-auth.conf"
CACHE_FILE = "nats-passwd"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
"""Characters a subject token may hold as is; anything else (a `.`, `*`, `>`, a space) would change what a
permission matches, so such an id is refused rather than quietly widened."""


@dataclass(frozen=True, slots=True)
class NatsUser:
    name: str
    hash: str
    publish: tuple[str, ...] | None
    """None: no restriction (the gateway). An empty tuple: may publish nothing."""
    subscribe: tuple[str, ...] | None
    connections: tuple[str, ...]


def _token(value: str, what: str) -> str:
    if not value or not set(value) <= _SAFE:
        raise ConfigError(f"{what} {value!r} cannot be a NATS subject token (letters, digits, _ and - only)")
    return value


def device_subjects(device: Device) -> tuple[str, ...]:
    """The subjects NATS makes of a device's own MQTT topics (`guardian/t1/sensor/s-00001/telemetry`)."""
    return (f"guardian.{_token(device.site, 'site')}.{device.kind}.{_token(device.id, 'device id')}.*",)


def service_user(account: str, hash_: str) -> NatsUser:
    if account == GATEWAY:
        return NatsUser(account, hash_, None, None, ("STANDARD", "MQTT"))
    if account == MONITOR:
        return NatsUser(account, hash_, (), ("guardian.*.alarm.>",), ("MQTT",))
    if account == SIMULATOR:  # speaks for every device, over MQTT or as a NATS publisher awaiting acks
        publish = ("guardian.*.sensor.*.*", "guardian.*.door.*.*")
        return NatsUser(account, hash_, publish, ("_INBOX.>",), ("STANDARD", "MQTT"))
    if account.startswith(EDGE):  # an edge Mosquitto's bridge: every device subject of its own site
        site = _token(account.removeprefix(EDGE), "site")
        return NatsUser(
            account, hash_, (f"guardian.{site}.sensor.*.*", f"guardian.{site}.door.*.*"), (), ("MQTT",)
        )
    site = _token(account.removeprefix(CONCENTRATOR), "site")
    return NatsUser(account, hash_, (f"guardian.{site}.sensor._batch.telemetry",), (), ("MQTT",))


class NatsAccess:
    def __init__(self, access: BrokerAccess) -> None:
        self.access = access
        self.auth_file = access.directory / AUTH_FILE
        self.cache_file = access.directory / CACHE_FILE

    @property
    def enabled(self) -> bool:
        """Once written, every change to the Mosquitto side is carried over."""
        return self.auth_file.exists()

    def write(self, registries: Sequence[SiteRegistry]) -> int:
        """Bring both files in line with the access folder's accounts; returns the number of users."""
        mosquitto = self.access.hashes()
        cache = self._cache()
        devices = {d.id: d for d in devices_of(registries)}
        users: list[NatsUser] = []
        fresh: dict[str, tuple[str, str]] = {}
        for name, mhash in sorted(mosquitto.items()):
            cached = cache.get(name)
            if cached is not None and cached[0] == mhash:
                bhash = cached[1]
            else:
                bhash = bcrypt.hashpw(self._password(name, devices).encode(), bcrypt.gensalt(COST)).decode()
            fresh[name] = (mhash, bhash)
            if name in devices:
                d = devices[name]
                users.append(NatsUser(name, bhash, device_subjects(d), (), ("MQTT",)))
            elif name in (GATEWAY, MONITOR, SIMULATOR) or name.startswith((CONCENTRATOR, EDGE)):
                users.append(service_user(name, bhash))
            # an account no longer in the registry (a removed device) gets no NATS user
        write_atomic(self.cache_file, "".join(f"{u}:{m}:{b}\n" for u, (m, b) in sorted(fresh.items())), 0o600)
        write_atomic(self.auth_file, render(users), 0o640)
        return len(users)

    def _cache(self) -> dict[str, tuple[str, str]]:
        if not self.cache_file.exists():
            return {}
        out = {}
        for line in self.cache_file.read_text(encoding="utf-8").splitlines():
            name, _, rest = line.partition(":")
            mhash, _, bhash = rest.rpartition(":")
            if name and mhash and bhash:
                out[name] = (mhash, bhash)
        return out

    def _password(self, name: str, devices: dict[str, Device]) -> str:
        if name in devices:
            path: Path = self.access.device_file(devices[name])
            return str(json.loads(path.read_text(encoding="utf-8"))["password"])
        return self.access.login(name)[1]


def _quoted(value: str) -> str:
    """NATS's config takes JSON's string escapes; quoting keeps a hash's `$` from naming a variable."""
    return json.dumps(value)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_quoted(v) for v in values) + "]"


def render(users: Sequence[NatsUser]) -> str:
    lines = [
        "# Written by guardian devices provision --nats (docs/security.md); regenerated on every change.",
        "# Include it in every node's configuration; reload with `nats-server --signal reload`.",
        "authorization {",
        "  users = [",
    ]
    for u in users:
        parts = [f"user: {_quoted(u.name)}", f"password: {_quoted(u.hash)}"]
        perms = []
        if u.publish is not None:
            perms.append(f"publish: {{allow: {_list(u.publish)}}}" if u.publish else 'publish: {deny: [">"]}')
        if u.subscribe is not None:
            perms.append(
                f"subscribe: {{allow: {_list(u.subscribe)}}}" if u.subscribe else 'subscribe: {deny: [">"]}'
            )
        if perms:
            parts.append("permissions: {" + ", ".join(perms) + "}")
        parts.append(f"allowed_connection_types: {_list(u.connections)}")
        lines.append("    {" + ", ".join(parts) + "}")
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
