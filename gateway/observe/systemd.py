"""Telling systemd we are up and alive: sd_notify's datagrams, twenty lines here rather than a dependency.

The protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named in `NOTIFY_SOCKET` (a path, or
an abstract name written with a leading `@`). Outside systemd the variable is unset and calls do nothing.

Why a watchdog that follows liveness and not /healthz's `ok`: /healthz is degraded while InfluxDB or the
broker is away, and then the gateway is doing its job (it spools, and alarms still go out by SMS and
voice). A restart would cure neither and would stop the rules for the length of a start. What a restart does
cure is a gateway that no longer runs: an event loop blocked by a stuck call, or a composition whose
maintenance child has stopped ticking (cursors no longer saved, gauges frozen). So `Health.live` is a
heartbeat from that child, and pings stop the moment it goes stale; systemd then kills the process
(SIGABRT after `WatchdogSec`) and `Restart=always` starts a new one. An ExecStartPost or timer that curls
/healthz was the other way; it sees only what the HTTP server answers, needs curl and a second unit, and
cannot tell a blocked loop from a slow answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

DEFAULT_PERIOD = 10.0
"""Seconds between pings when systemd gives no WATCHDOG_USEC (pings are then only STATUS)."""


class SystemdNotifier:
    """sd_notify(3) without libsystemd: one datagram per call, nothing when not run by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if address.startswith("@"):  # an abstract socket name
            self.address = "\0" + address[1:]
        elif address.startswith("/"):
            self.address = address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None
        """The watchdog timeout systemd set for us (WatchdogSec), or None."""
        self.failing = False
        """The last send failed (logged once per run of failures)."""

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """One datagram of KEY=value lines (READY="1", WATCHDOG="1", STATUS=…); False if not delivered."""
        if self.address is None:
            return False
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:  # never blocking: a reader that stopped reading must not stop the event loop with it
            with socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            ) as s:
                s.connect(self.address)
                s.send(message)
        except OSError as exc:
            if not self.failing:
                log.warning("systemd notify to %r failed: %s", self.address, exc)
            self.failing = True
            return False
        self.failing = False
        return True


async def keep_alive(
    notifier: SystemdNotifier,
    live: Callable[[], bool],
    started: Callable[[], bool],
    status: Callable[[], str] = lambda: "running",
) -> None:
    """READY=1 once `started()` (the HTTP server listens), then WATCHDOG=1 every third of the watchdog
    timeout while `live()`; a pause in pings is what makes systemd restart the gateway."""
    if not notifier.enabled:
        return
    period = notifier.watchdog / 3 if notifier.watchdog else DEFAULT_PERIOD
    ready = False
    was_live = True
    try:
        while True:
            if not ready:
                if started():
                    notifier.send(READY="1", STATUS=status())
                    ready = True
                await asyncio.sleep(0.1)
                continue
            if live():
                fields = {"STATUS": status()}
                if notifier.watchdog:
                    fields["WATCHDOG"] = "1"
                notifier.send(**fields)
                was_live = True
            elif was_live:
                log.error("gateway not live: watchdog pings stop, systemd will restart it")
                was_live = False
            await asyncio.sleep(period)
    finally:
        notifier.send(STOPPING="1")


__all__ = ["DEFAULT_PERIOD", "SystemdNotifier", "keep_alive"]
