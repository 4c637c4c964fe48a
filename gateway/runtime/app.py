"""One gateway process: every long-running task is a named child of one TaskGroup in `run()`.

MQTT session ─▶ Ingest ─▶ Spool ─▶ Processor ─┬─▶ Exporter ─────────────────▶ InfluxDB
   ▲ PUBACK after commit ◀─┘                  └─▶ AlarmStage ─┬─▶ AlarmBook (the store)
   │                                                ▲          └─▶ Notifier ─▶ channels ─▶ people
   └──────────── sirens (the MQTT channel) ◀────────┼───────────────┤
                 AlarmInbox: acknowledgements, system alarms ◀──────┘

`_run` builds the parts in that order, each from parts already built, and starts them; nothing is assigned
after construction, so the constructors are the map of the route.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from alerts.engine import Engine
from alerts.signals import Transition
from alerts.site import SiteModel
from gateway.config.settings import MqttSettings, Settings
from gateway.homeassistant.bridge import HomeAssistantBridge
from gateway.homeassistant.sealing import SECRET_NAME as HA_SEAL
from gateway.homeassistant.sealing import Sealer
from gateway.homeassistant.sealing import new_key as new_seal_key
from gateway.http.api.context import ApiContext, LiveView
from gateway.http.app import create_app
from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import PointEncoder
from gateway.influx.linequeue import LineQueue
from gateway.mqtt import MqttSession, SessionOptions
from gateway.net.tls import client_context
from gateway.notify.directory import Directory
from gateway.notify.oncall import OnCall
from gateway.notify.outbox import OutboxStore
from gateway.notify.setup import build_notifier, http_client
from gateway.observe.health import Component, Health
from gateway.observe.metrics import Metrics
from gateway.observe.systemd import SystemdNotifier, keep_alive
from gateway.pipeline.alarms import AlarmStage
from gateway.pipeline.exporter import CURSOR as EXPORT_CURSOR
from gateway.pipeline.exporter import Exporter
from gateway.pipeline.inbox import AlarmInbox
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.processor import CURSOR as PROCESS_CURSOR
from gateway.pipeline.processor import Processor
from gateway.pipeline.spool import Spool
from gateway.runtime.audit import refuse_placeholders
from gateway.runtime.heap import settle_heap
from gateway.runtime.prepare import prepare_compact
from gateway.store.alarm_book import AlarmBook
from gateway.store.db import Store, open_store
from gateway.store.duty import load_shifts
from gateway.store.order_clock import OrderClock
from gateway.store.order_desk import OrderDesk
from gateway.store.order_photos import PhotoShelf
from gateway.store.preferences import PreferenceTable
from gateway.store.registry_import import away_flags
from gateway.store.short_links import ShortLinkTable
from gateway.store.subscriptions import PushSubscriptions
from gateway.tokens import TokenIssuer
from sensors.decode import DecodeLimits, Decoder
from sensors.flood import FloodGuard
from sensors.index import DeviceIndex

log = logging.getLogger(__name__)

SUBSCRIPTIONS = [("guardian/+/sensor/+/+", 1), ("guardian/+/door/+/+", 1)]


class _Stop(Exception):
    pass


RULES_READY_LAG = 20_000
"""Messages the rules may be behind the spool and still count as ready (about a second at full load)."""


async def _ready(store: Store, spool: Spool, processor: Processor, session: MqttSession) -> dict[str, bool]:
    return {
        "store": await store.ping(),
        "rules": spool.last_id - processor.cursor <= RULES_READY_LAG,
        "mqtt": session.connected,
    }


def _session_options(m: MqttSettings) -> SessionOptions:
    return SessionOptions(
        host=m.host,
        port=m.port,
        client_id=m.client_id,
        subscriptions=SUBSCRIPTIONS,
        username=m.username,
        password=m.password.get_secret_value() if m.password else None,
        keepalive=m.keepalive,
        session_expiry=m.session_expiry,
        receive_maximum=m.receive_maximum,
        protocol=m.protocol,
        tls=client_context(m.ca_file, m.cert_file, m.key_file) if m.tls else None,
    )


async def _token_issuer(settings: Settings, outbox: OutboxStore, clock: Callable[[], float]) -> TokenIssuer:
    """The API's signing key: configured, or generated on first start and kept in the outbox."""
    jwt_key = settings.api.jwt_key
    return TokenIssuer(
        jwt_key.get_secret_value().encode()
        if jwt_key
        else await outbox.secret("api-jwt", TokenIssuer.new_key),
        clock=clock,
        access_seconds=settings.api.access_minutes * 60,
        refresh_seconds=settings.api.refresh_days * 86400,
    )


def server_config(settings: Settings, app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        ssl_certfile=settings.http.cert_file,
        ssl_keyfile=settings.http.key_file,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: anyone on the box could then pose as
        # any address and escape the sign-in throttle. Only configured proxies count.
        proxy_headers=bool(settings.http.forwarded_allow_ips),
        forwarded_allow_ips=settings.http.forwarded_allow_ips or [],
    )


async def _home_assistant(
    settings: Settings,
    store: Store,
    index: DeviceIndex,
    live: LiveView,
    acknowledge: Callable[[str, str], Awaitable[list[Transition]]],
    outbox: OutboxStore,
    metrics: Metrics,
    clock: Callable[[], float],
) -> HomeAssistantBridge | None:
    """The households' Home Assistant links, when the operator turned them on (docs/home-assistant.md)."""
    ha = settings.home_assistant
    if not ha.enabled:
        return None
    return HomeAssistantBridge(
        store,
        index,
        live.device,
        acknowledge,
        Sealer(await outbox.secret(HA_SEAL, new_seal_key)),
        open_alarms=lambda: list(live.engine.lifecycle.alarms.values()),
        district=(settings.mqtt.host, settings.mqtt.port),
        clock=clock,
        interval=ha.min_interval,
        health_every=ha.health_every,
        backoff_max=ha.backoff_max,
        metrics=metrics,
    )


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the gateway owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


async def run(
    settings: Settings, *, stop: asyncio.Event | None = None, clock: Callable[[], float] = time.time
) -> None:
    refuse_placeholders(settings)
    ready = await prepare_compact(settings)
    for site, summary in ready.imported.items():
        log.info("store: site %s imported from the registry: %s", site, summary)
    async with open_store(settings.store_url()) as store:
        await _run(settings, store, ready.index, ready.model, ready.sites, ready.directory, stop, clock)


async def _run(
    settings: Settings,
    store: Store,
    index: DeviceIndex,
    model: SiteModel,
    sites: int,
    directory: Directory,
    stop: asyncio.Event | None,
    clock: Callable[[], float],
) -> None:
    limits = DecodeLimits(
        max_payload=settings.ingest.max_payload,
        max_batch_payload=settings.ingest.max_batch_payload,
        max_skew=settings.ingest.max_skew,
        backfill=settings.ingest.backfill,
    )
    decoder = Decoder(index, limits)
    metrics = Metrics()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async with (
        Spool(settings.data_dir / "spool.sqlite3", synchronous=settings.spool.synchronous) as spool,
        InfluxV1(settings.influx) as influx,
        OutboxStore(settings.data_dir / "notify.sqlite3") as outbox,
        http_client(settings.notify.send_timeout, settings.notify.ca_file) as client,
    ):
        # Built in flow order, each from what is already built; nothing is assigned after construction.
        export_after = await spool.cursor(EXPORT_CURSOR) or 0
        process_after = await spool.cursor(PROCESS_CURSOR) or 0
        session = MqttSession(_session_options(settings.mqtt))
        influx_health = Component()
        exporter = Exporter(
            spool,
            influx,
            decoder,
            PointEncoder(index),
            metrics,
            influx_health,
            after=export_after,
            clock=clock,
        )
        engine = Engine(model)
        inbox = AlarmInbox(metrics.alarm_inbox_dropped)
        phones = PushSubscriptions(store)
        await phones.adopt(outbox)
        on_call = OnCall(
            lambda now: load_shifts(store, now),
            clock=clock,
            fallbacks=metrics.duty_fallbacks,
            period=settings.notify.roster_refresh,
        )
        notifier = await build_notifier(
            settings.notify,
            directory.with_on_call(on_call),
            outbox,
            client,
            LineQueue(exporter, metrics.notify_lines_dropped),
            metrics,
            clock=clock,
            acknowledge=inbox.acknowledge,
            subscription_store=phones,
            report=inbox.report,
            session=session,
            short_link_store=ShortLinkTable(store),
            preference_source=PreferenceTable(store).all,
        )
        book = AlarmBook(store, clock=clock, live_alarms=lambda: list(engine.lifecycle.alarms.values()))
        # Every order change (filed, moved on through the API, opened by an alarm) re-arms its clocks.
        order_clock = OrderClock(store, notifier.tell, clock=clock)
        desk = OrderDesk(store, listeners=(order_clock.offer,), lines=notifier.lines)
        live = LiveView(engine, clock)
        home_assistant = await _home_assistant(
            settings, store, index, live, notifier.acknowledge, outbox, metrics, clock
        )
        alarms = AlarmStage(
            engine,
            exporter,
            metrics,
            settings.data_dir / "alerts.snapshot",
            clock=clock,
            # Listening from the start, before the catch-up: transitions it re-emits are known to the outbox
            # (same keys) and only those never planned before the crash go out.
            listeners=(book.offer, notifier.offer, desk.offer)
            + ((home_assistant.offer,) if home_assistant is not None else ()),
            inbox=inbox,
            snapshot_every=settings.alerts.snapshot_seconds,
            status_every=settings.alerts.status_seconds,
            stats_every=settings.alerts.stats_seconds,
        )
        processor = Processor(
            spool,
            decoder,
            metrics,
            after=process_after,
            sinks=[exporter.offer, alarms.offer]
            + ([home_assistant.offer_batch] if home_assistant is not None else []),
            chunk=settings.spool.read_chunk,
            room=notifier.room,
        )
        guard = FloodGuard(len(index), rate=settings.ingest.flood_rate, burst=settings.ingest.flood_burst)
        ingest = Ingest(
            spool, metrics, clock=clock, on_commit=processor.offer, flood=(index, guard), session=session
        )
        health = Health(
            clock=clock,
            influx=influx_health,
            spool_depth=lambda: exporter.depth,
            spool_fault=lambda: ingest.fault,
        )
        api = ApiContext(
            store=store,
            tokens=await _token_issuer(settings, outbox, clock),
            book=book,
            clock=clock,
            live=live,
            influx=influx,
            notifier=notifier,
            on_call=on_call,
            acknowledge=notifier.acknowledge,
            ready=lambda: _ready(store, spool, processor, session),
            max_body=settings.api.max_body,
            page_max=settings.api.page_max,
            lines=notifier.lines,
            order_listeners=(order_clock.offer,),
            home_assistant=home_assistant,
            photos=PhotoShelf(
                settings.data_dir / "photos", settings.api.photo_max, settings.api.photos_per_order
            ),
        )
        server = QuietServer(server_config(settings, create_app(health, metrics, notifier, api)))

        # Then state from before: open deliveries, "I'm away", the rule snapshot and the spool behind it.
        resumed = await notifier.load()
        log.info("duty roster: %d shift(s) around now", await on_call.reload())
        log.info("order clocks: %d open work order(s) watched", await order_clock.load())
        for site, person, away in await away_flags(store):
            engine.set_away(site, person, away)
        restored = alarms.load()
        if (restored or 0) < process_after:  # no snapshot (first start, or killed before the first one)
            replayed = await alarms.catch_up(spool, decoder, process_after)
            log.info("alert state rebuilt from spool id %d: %d messages replayed", restored or 0, replayed)
        await ingest.seed()
        if home_assistant is not None:
            log.info("Home Assistant: %d household(s) enrolled", await home_assistant.load())
        settle_heap()  # after everything start-up builds: the registry, rule state, routes
        log.info(
            "gateway starting: %d devices in %d site(s); spool at id %d (exported to %d); %d deliveries open",
            len(index),
            sites,
            spool.last_id,
            export_after,
            resumed,
        )

        saved: dict[str, int] = {}

        async def save_cursors() -> None:
            """One transaction, and only when a stage moved (each commit is an fsync)."""
            cursors = {EXPORT_CURSOR: exporter.cursor, PROCESS_CURSOR: processor.cursor}
            if cursors != saved:
                await spool.set_cursors(cursors)
                saved.update(cursors)

        async def watch_stop() -> None:
            await stop.wait()
            # A polite DISCONNECT while the link is still up; the broker keeps our session for the restart.
            await session.disconnect()
            raise _Stop

        async def maintain() -> None:
            """Persist cursors, publish gauges, trim the spool."""
            last_trim = 0.0
            while True:
                await asyncio.sleep(0.5)
                health.beat()
                health.mqtt.set(session.connected, clock(), session.last_error)
                metrics.mqtt_connected.set(1 if session.connected else 0)
                metrics.mqtt_connections.set(session.generation)
                metrics.devices_flooding.set(guard.flooding(clock()))  # falls back once a flood stops
                metrics.spool_depth.set(exporter.depth)
                await save_cursors()
                if clock() - last_trim > 60:
                    last_trim = clock()
                    health.beat()  # each step may take seconds on a large spool; a beat between them
                    await outbox.trim(clock() - settings.notify.keep_days * 86400)
                    if notifier.short_links is not None:
                        await notifier.short_links.purge()
                    health.beat()
                    through = min(exporter.cursor, processor.cursor, alarms.saved_cursor)
                    await spool.trim(
                        through_id=through,
                        older_than=clock() - settings.spool.keep_hours * 3600,
                        quarantine_before=clock() - settings.spool.quarantine_days * 86400,
                    )

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(session.run(ingest.deliver), name="mqtt-session")
                tg.create_task(ingest.run(), name="spool-commit")
                tg.create_task(processor.run(), name="processor")
                tg.create_task(exporter.run(), name="influx-exporter")
                tg.create_task(alarms.run(), name="alarms")
                tg.create_task(notifier.run(), name="notifier")
                tg.create_task(book.run(), name="alarm-book")
                tg.create_task(desk.run(), name="order-desk")
                tg.create_task(order_clock.run(), name="order-clock")
                tg.create_task(on_call.run(), name="duty-roster")
                tg.create_task(maintain(), name="maintenance")
                tg.create_task(server.serve(), name="http")
                tg.create_task(watch_stop(), name="stop-watch")
                if home_assistant is not None:
                    tg.create_task(home_assistant.run(), name="home-assistant")
                tg.create_task(
                    keep_alive(
                        SystemdNotifier(),
                        health.live,
                        started=lambda: server.started,
                        status=lambda: f"{health.report()['status']}; spool at id {spool.last_id}",
                    ),
                    name="systemd-watchdog",
                )
        except* _Stop:
            log.info("gateway stopping")
        finally:
            await save_cursors()
            await alarms.save()
            await notifier.flush()
