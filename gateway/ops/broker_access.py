"""Who may say what on the broker: one MQTT identity per device, written as Mosquitto's own files.

A detector that can publish under any topic can send a spoofed "all clear" for its neighbour, and a client
that takes the gateway's client id takes its persistent session and the readings queued in it. So every
device gets its own random password and may publish only under its own id (`pattern write
guardian/+/sensor/%u/+`), nothing subscribes but the gateway, anonymous access is off and the broker sets
each client id to its username. The site and kind in the topic are checked by the gateway against the
registry (a door's identity publishing as a sensor is rejected there as `device_mismatch`).

The folder this writes is the broker's whole access state, changed one device at a time:

    passwd                      Mosquitto password file ($7$ PBKDF2-SHA512, as mosquitto_passwd writes)
    acl                         Mosquitto ACL: per-account topics and the device patterns
    revoked                     device ids refused until rotated back in (provision skips them)
    mosquitto.conf              the lines to include in the broker's configuration
    secrets/mqtt__username      the gateway's account, read through GUARDIAN_SECRETS_DIR
    secrets/mqtt__password
    accounts/NAME.password      other service accounts' passwords (the alarm monitor; a site's concentrator,
                                which may publish only its site's `_batch` topic; the simulator in demos)
    devices/SITE/DEVICE.json    one provisioning file per device, for its installer

Device passwords are 192 random bits, so stretching adds nothing an attacker could not brute-force anyway;
Mosquitto's default 101 PBKDF2 rounds keep a reconnect storm of thousands of devices cheap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigError
from sensors.registry import SiteRegistry

GATEWAY = "guardian-gateway"
MONITOR = "guardian-monitor"
SIMULATOR = "guardian-simulator"
ROUNDS = 101

SERVICE_TOPICS: dict[str, tuple[str, ...]] = {
    GATEWAY: (
        "topic read guardian/+/sensor/+/+",
        "topic read guardian/+/door/+/+",
        "topic write guardian/+/alarm/#",
    ),
    MONITOR: ("topic read guardian/+/alarm/#",),
    # Speaks for every device, as a concentrator does: demos, tests and load generators only.
    SIMULATOR: ("topic write guardian/+/sensor/+/+", "topic write guardian/+/door/+/+"),
}
CONCENTRATOR = "concentrator-"  # + site: a gateway box relaying a site's detectors in batches
EDGE = "edge-"  # + site: the Mosquitto at a site's edge, bridging its devices' topics into a NATS district


def account_topics(account: str) -> tuple[str, ...]:
    if account.startswith(CONCENTRATOR):
        return (f"topic write guardian/{account.removeprefix(CONCENTRATOR)}/sensor/_batch/telemetry",)
    if account.startswith(EDGE):
        site = account.removeprefix(EDGE)
        return (f"topic write guardian/{site}/sensor/+/+", f"topic write guardian/{site}/door/+/+")
    return SERVICE_TOPICS[account]


def is_service(account: str) -> bool:
    return account in SERVICE_TOPICS or account.startswith((CONCENTRATOR, EDGE))


DEVICE_PATTERNS = ("pattern write guardian/+/sensor/%u/+", "pattern write guardian/+/door/%u/+")


def hash_password(password: str, salt: bytes | None = None, rounds: int = ROUNDS) -> str:
    """Mosquitto 2's `$7$` password hash (PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key)."""
    salt = os.urandom(12) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds, 64)
    return f"$7${rounds}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class Device:
    site: str
    id: str
    kind: str  # "sensor" | "door"


def devices_of(registries: Sequence[SiteRegistry]) -> list[Device]:
    """Every device, refusing ids that two sites share: on one broker the username is the device id."""
    found: dict[str, Device] = {}
    for reg in registries:
        for b in reg.buildings:
            for u in b.units:
                listed = [Device(reg.site, d, "door") for d in u.doors]
                listed += [Device(reg.site, s.id, "sensor") for h in u.households for s in h.sensors]
                for device in listed:
                    if is_service(device.id):
                        raise ConfigError(f"site {reg.site}: device id {device.id!r} is a service account")
                    other = found.get(device.id)
                    if other is not None and other.site != device.site:
                        raise ConfigError(
                            f"device id {device.id!r} is in sites {other.site!r} and {device.site!r}; "
                            "devices sharing a broker need distinct ids"
                        )
                    found[device.id] = device
    return list(found.values())


@dataclass(frozen=True, slots=True)
class Broker:
    """Where installers point devices; written into each provisioning file."""

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca: str | None = None


class BrokerAccess:
    """The access folder. Each change rewrites `passwd`/`acl` atomically; the broker reloads on SIGHUP."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.passwd = directory / "passwd"
        self.acl = directory / "acl"
        self.secrets_dir = directory / "secrets"
        self._revoked = directory / "revoked"

    # -- reading -------------------------------------------------------------------------------------------
    def hashes(self) -> dict[str, str]:
        if not self.passwd.exists():
            return {}
        lines = self.passwd.read_text(encoding="utf-8").splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def revoked(self) -> set[str]:
        if not self._revoked.exists():
            return set()
        return {x for x in self._revoked.read_text(encoding="utf-8").split() if x}

    def login(self, account: str) -> tuple[str, str]:
        """A service account's (username, password); the gateway's is kept as its secrets."""
        if account == GATEWAY:
            password = (self.secrets_dir / "mqtt__password").read_text(encoding="utf-8").strip()
            return GATEWAY, password
        return account, self.account_file(account).read_text(encoding="utf-8").strip()

    def device_login(self, site: str, device_id: str) -> tuple[str, str]:
        """A device's (username, password), from the file its installer gets."""
        data = json.loads(self.device_file(Device(site, device_id, "")).read_text(encoding="utf-8"))
        return str(data["username"]), str(data["password"])

    def account_file(self, account: str) -> Path:
        return self.directory / "accounts" / f"{account}.password"

    def device_file(self, device: Device) -> Path:
        return self.directory / "devices" / device.site / f"{device.id}.json"

    # -- changing ------------------------------------------------------------------------------------------
    def provision(
        self,
        registries: Sequence[SiteRegistry],
        broker: Broker,
        *,
        simulator: bool = False,
        concentrators: bool = False,
        edges: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[Device], list[Device]]:
        """Credentials for every device and service account lacking one; returns (created, skipped revoked).

        Idempotent: devices already provisioned keep their password, so running it after a registry
        update only adds the new devices.
        """
        devices = devices_of(registries)
        hashes = self.hashes()
        revoked = self.revoked()
        created: list[Device] = []
        for n, device in enumerate(devices, 1):
            if device.id not in hashes and device.id not in revoked:
                hashes[device.id] = self._issue(device, broker)
                created.append(device)
            if progress is not None:
                progress(n, len(devices))
        if created:
            os.sync()  # the installer files, all at once, before the password file names their passwords
        accounts = [GATEWAY, MONITOR] + ([SIMULATOR] if simulator else [])
        accounts += [f"{CONCENTRATOR}{r.site}" for r in registries] if concentrators else []
        accounts += [f"{EDGE}{r.site}" for r in registries] if edges else []
        for account in accounts:
            if account not in hashes:
                hashes[account] = self._issue_service(account)
        self._write(hashes)
        return created, [d for d in devices if d.id in revoked]

    def rotate(self, registries: Sequence[SiteRegistry], device_id: str, broker: Broker) -> Device:
        """A new password for one device (also bringing a revoked one back); the others are untouched."""
        device = self._find(registries, device_id)
        hashes = self.hashes()
        hashes[device.id] = self._issue(device, broker)
        os.sync()
        self._set_revoked(self.revoked() - {device.id})
        self._write(hashes)
        return device

    def revoke(self, registries: Sequence[SiteRegistry], device_id: str) -> Device:
        """Remove one device's credential and keep it out of future provisioning."""
        device = self._find(registries, device_id)
        hashes = self.hashes()
        hashes.pop(device.id, None)
        self._set_revoked(self.revoked() | {device.id})
        self.device_file(device).unlink(missing_ok=True)
        self._write(hashes)
        return device

    def mosquitto_conf(self) -> str:
        return (
            "# Gas Guardian broker access (guardian devices provision); docs/security.md\n"
            "allow_anonymous false\n"
            "# A client id is its username: no device can take over the gateway's session.\n"
            "use_username_as_clientid true\n"
            f"password_file {self.passwd.resolve()}\n"
            f"acl_file {self.acl.resolve()}\n"
        )

    # -- internals -----------------------------------------------------------------------------------------
    def _find(self, registries: Sequence[SiteRegistry], device_id: str) -> Device:
        for device in devices_of(registries):
            if device.id == device_id:
                return device
        raise ConfigError(f"no device {device_id!r} in the registry")

    def _issue(self, device: Device, broker: Broker) -> str:
        password = new_password()
        prefix = f"guardian/{device.site}/{device.kind}/{device.id}"
        topics = {"status": f"{prefix}/status", "event": f"{prefix}/event"}
        if device.kind == "sensor":
            topics["telemetry"] = f"{prefix}/telemetry"
        _write_private(
            self.device_file(device),
            json.dumps(
                {
                    "site": device.site,
                    "device": device.id,
                    "kind": device.kind,
                    "broker": {"host": broker.host, "port": broker.port, "tls": broker.tls, "ca": broker.ca},
                    "username": device.id,
                    "password": password,
                    "client_id": device.id,
                    "topics": topics,
                    "will": {"topic": topics["status"], "payload": {"online": False}, "retain": True},
                },
                indent=2,
            ),
            sync=False,
        )
        return hash_password(password)

    def _issue_service(self, account: str) -> str:
        password = new_password()
        if account == GATEWAY:
            _write_private(self.secrets_dir / "mqtt__username", GATEWAY + "\n")
            _write_private(self.secrets_dir / "mqtt__password", password + "\n")
        else:
            _write_private(self.account_file(account), password + "\n")
        return hash_password(password)

    def _set_revoked(self, ids: Iterable[str]) -> None:
        write_atomic(self._revoked, "".join(f"{x}\n" for x in sorted(ids)), 0o644)

    def _write(self, hashes: dict[str, str]) -> None:
        # Readable by the broker's user (Debian runs it as `mosquitto`); the hashes alone do not log in.
        write_atomic(self.passwd, "".join(f"{u}:{h}\n" for u, h in sorted(hashes.items())), 0o640)
        acl = ["# Written by guardian devices provision; regenerated on every change."]
        for account in sorted(a for a in hashes if is_service(a)):
            acl += ["", f"user {account}", *account_topics(account)]
        acl += ["", "# Every device: publish under its own id only, subscribe to nothing.", *DEVICE_PATTERNS]
        write_atomic(self.acl, "\n".join(acl) + "\n", 0o644)
        write_atomic(self.directory / "mosquitto.conf", self.mosquitto_conf(), 0o644)


def write_atomic(path: Path, text: str, mode: int, *, sync: bool = True) -> None:
    """Whole or not at all; `sync` also survives power loss. Installer files skip it (one fsync each made
    100,000 devices take 134 s); `provision` syncs them all at once before writing the password file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _write_private(path: Path, text: str, *, sync: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, text, 0o600, sync=sync)
