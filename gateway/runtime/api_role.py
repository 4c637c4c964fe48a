"""`guardian run --role api`: a district's API replica, the HTTP app from the district's store and nothing
else (no MQTT, no rules, no spool, no sends), as many of them behind a load balancer as the load asks.

  load balancer ─▶ replica ─┬─▶ PostgreSQL: accounts, sign-in throttle, token versions, alarm book,
                            │   outbox (read), push subscriptions, the shared secrets
                            ├─▶ NATS: acknowledgements into the alarm's partition stream
                            └─▶ InfluxDB: readings for charts and evidence

Every replica signs and checks the same tokens (`api.jwt_key`, or the district's `api-jwt` secret kept in
the store) and the same notification links (`notify.link_secret`, or the district's `link` secret, as the
instances use); sign-in counts and token revocation (the account's `token_version`) are rows in the store,
so a lockout or a sign-out-everywhere made through one replica holds on all. `run_api` builds the parts in
order, each from parts already built, and starts them as named children of one TaskGroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

import nats
from nats.aio.client import Client as NATS

from gateway.config.settings import Settings
from gateway.district.notifying import NotifyParts, notify_parts
from gateway.district.outbox import shared_secret
from gateway.district.replica import ReplicaNotifier
from gateway.errors import ConfigError
from gateway.http.api.context import ApiContext
from gateway.http.app import create_app
from gateway.influx.client import InfluxV1
from gateway.notify.setup import http_client
from gateway.observe.health import Component, Health
from gateway.observe.metrics import Metrics
from gateway.observe.systemd import SystemdNotifier, keep_alive
from gateway.runtime.app import QuietServer, server_config
from gateway.runtime.audit import refuse_placeholders
from gateway.store.alarm_book import AlarmBook
from gateway.store.db import Store, open_store
from gateway.tokens import TokenIssuer

log = logging.getLogger(__name__)

NO_LIVE = (
    "unknown here: kept by the rule engine's partition owner",
    "此处未知 (由负责该小区的规则引擎实例掌握)",
)
"""What a replica says of a home's live state (it holds no rules)."""

CHECK_EVERY = 5.0
"""Seconds between the replica's looks at NATS and InfluxDB for /healthz."""


class _Stop(Exception):
    pass


def refuse_api_settings(settings: Settings) -> None:
    """An API replica needs the district: its NATS servers and its PostgreSQL store."""
    missing = []
    if not settings.cluster.servers:
        missing.append("the district's NATS servers (--cluster URLS or GUARDIAN_CLUSTER__SERVERS)")
    url = settings.store.url or ""
    if not url.startswith("postgresql"):
        missing.append(
            "the district's PostgreSQL store (store.url, e.g. postgresql+asyncpg://guardian@db/guardian; "
            + (f"not {url.split(':', 1)[0]}" if url else "none is set")
            + ")"
        )
    if missing:
        raise ConfigError("--role api serves a district's API and needs:\n  " + "\n  ".join(missing))


async def _connect(settings: Settings) -> NATS:
    c = settings.cluster
    return await nats.connect(
        servers=c.servers,
        user=c.user,
        password=c.password.get_secret_value() if c.password is not None else None,
        name=f"api-{socket.gethostname()}-{os.getpid()}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1.0,
        connect_timeout=5,
    )


async def _token_issuer(settings: Settings, store: Store, clock: Callable[[], float]) -> TokenIssuer:
    """The configured key, or the district's, made by whichever replica asks first."""
    jwt_key = settings.api.jwt_key
    key = (
        jwt_key.get_secret_value().encode()
        if jwt_key
        else await shared_secret(store, "api-jwt", TokenIssuer.new_key)
    )
    return TokenIssuer(
        key,
        clock=clock,
        access_seconds=settings.api.access_minutes * 60,
        refresh_seconds=settings.api.refresh_days * 86400,
    )


async def run_api(
    settings: Settings, *, stop: asyncio.Event | None = None, clock: Callable[[], float] = time.time
) -> None:
    refuse_api_settings(settings)
    refuse_placeholders(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    nc = await _connect(settings)
    try:
        async with (
            open_store(settings.store_url()) as store,
            InfluxV1(settings.influx) as influx,
            http_client(settings.notify.send_timeout, settings.notify.ca_file) as client,
        ):
            await _serve(
                settings,
                store,
                nc,
                influx,
                await notify_parts(settings.notify, store, client, {}),
                stop,
                clock,
            )
    finally:
        await nc.drain()


async def _serve(
    settings: Settings,
    store: Store,
    nc: NATS,
    influx: InfluxV1,
    parts: NotifyParts,
    stop: asyncio.Event,
    clock: Callable[[], float],
) -> None:
    # Built in the order a request meets them; nothing is assigned after construction.
    notifier = ReplicaNotifier(parts, nc.jetstream(timeout=10.0), clock=clock)
    book = AlarmBook(
        store, clock=clock
    )  # annotations (comment, assign, resolve) only: the owners write the rest
    nats_link, influx_link = Component(), Component()
    health = Health(clock=clock, influx=influx_link, nats=nats_link)
    metrics = Metrics()

    async def ready() -> dict[str, bool]:
        return {"store": await store.ping(), "nats": nc.is_connected}

    api = ApiContext(
        store=store,
        tokens=await _token_issuer(settings, store, clock),
        book=book,
        clock=clock,
        influx=influx,
        notifier=notifier,
        acknowledge=notifier.acknowledge,
        ready=ready,
        max_body=settings.api.max_body,
        page_max=settings.api.page_max,
        no_live=NO_LIVE,
    )
    server = QuietServer(server_config(settings, create_app(health, metrics, notifier, api)))
    log.info(
        "API replica starting on %s:%d: store %s, NATS %s",
        settings.http.host,
        settings.http.port,
        store.engine.url.render_as_string(hide_password=True),
        ",".join(settings.cluster.servers),
    )

    async def watch_stop() -> None:
        await stop.wait()
        raise _Stop

    async def maintain() -> None:
        """The heartbeat, what /healthz says of NATS and InfluxDB, and the push subscriptions reread."""
        last_check = last_read = time.monotonic()
        last_check -= CHECK_EVERY
        while True:
            health.beat()
            nats_link.set(nc.is_connected, clock(), None if nc.is_connected else "not connected to NATS")
            if time.monotonic() - last_check >= CHECK_EVERY:
                last_check = time.monotonic()
                try:
                    await influx.health()
                    influx_link.set(True, clock())
                except Exception as exc:
                    influx_link.set(False, clock(), str(exc) or type(exc).__name__)
            if time.monotonic() - last_read >= settings.api.subscriptions_seconds:
                last_read = time.monotonic()
                try:
                    await notifier.reload_subscriptions()
                except Exception as exc:  # the store away: keep the list held, read again next time
                    log.warning("push subscriptions not reread (%s)", exc)
            await asyncio.sleep(0.5)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(), name="http")
            tg.create_task(maintain(), name="maintenance")
            tg.create_task(watch_stop(), name="stop-watch")
            tg.create_task(
                keep_alive(
                    SystemdNotifier(),
                    health.live,
                    started=lambda: server.started,
                    status=lambda: f"API replica; {health.report()['status']}",
                ),
                name="systemd-watchdog",
            )
    except* _Stop:
        log.info("API replica stopping")
