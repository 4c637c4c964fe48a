"""The real notifier (outbox, channels, HTTP routes) wired to a real alert engine, against real receivers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from alerts.engine import Engine
from alerts.rule import Audience, Severity
from alerts.signals import Acknowledgement, Transition, Where
from gateway.config.registry_file import load_registries
from gateway.config.settings import NotifySettings
from gateway.http.app import create_app
from gateway.influx.linequeue import LineQueue
from gateway.mqtt import MqttSession, SessionOptions
from gateway.notify.directory import Directory
from gateway.notify.notifier import Notifier
from gateway.notify.outbox import OutboxStore
from gateway.notify.preferences import Source
from gateway.notify.setup import build_notifier, http_client
from gateway.notify.shortlinks import ShortLinkStore
from gateway.observe.health import Health
from gateway.observe.metrics import Metrics
from gateway.pipeline.replay import build_engine
from sensors.decode import Decoder
from simulators import scenarios
from tests.gateway.notify.receivers import Receiver

WHERE = Where("t1", "b1", "b1-u1", "b1-u1-101")


class Lines:
    """Where notification points go in these tests (InfluxDB itself is in the integration test)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    async def write(self, lines: list[bytes], msg_ids: list[int]) -> None:
        self.lines.extend(lines)


def registry(rx: Receiver) -> dict[str, Any]:
    reg = scenarios.registry()
    household = reg["buildings"][0]["units"][0]["households"][0]
    household["residents"] = [{"id": "p-1", "notify": [f"json://127.0.0.1:{rx.port}/apprise/p-1"]}]
    household["contacts"] = [{"id": "c-1", "notify": [f"dingtalk+{rx.url}/bot/c-1?access_token=t"]}]
    reg["grids"][0]["officers"] = [{"id": "o-1", "notify": [f"json://127.0.0.1:{rx.port}/apprise/o-1"]}]
    reg["property"] = [{"id": "pm-1", "notify": [f"wecom+{rx.url}/bot/pm?key=k"]}]
    reg["maintenance"] = [{"id": "mt-1", "notify": [f"json://127.0.0.1:{rx.port}/apprise/mt-1"]}]
    return reg


def transition(rule: str, kind: str = "raised", *, ts: float = 1.0, severity: Severity = Severity.P1,
               notify: tuple[Audience, ...] = (Audience.RESIDENTS,), n: int = 0, where: Where = WHERE) -> Transition:  # fmt: skip
    return Transition(
        ts=ts,
        alarm_id=f"t1:{rule}:s-{n}:{round(ts * 1000)}",
        rule=rule,
        severity=severity,
        transition=kind,  # type: ignore[arg-type]
        where=where,
        subject=f"s-{n}",
        notify=notify,
    )


class Rig:
    def __init__(self, notifier: Notifier, engine: Engine, decoder: Decoder, lines: Lines, app: Any) -> None:
        self.notifier = notifier
        self.engine = engine
        self.decoder = decoder
        self.lines = lines
        self.app = app
        self.transitions: list[Transition] = []

    def emit(self, transitions: list[Transition]) -> None:
        for t in transitions:
            self.transitions.append(t)
            self.notifier.offer(t)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gateway")

    async def settle(self, done: Callable[[], bool], within: float = 20.0) -> None:
        """Poll: the receivers record requests on their own threads."""
        async with asyncio.timeout(within):
            while not done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path,
    rx: Receiver,
    reg: dict[str, Any] | None = None,
    *,
    sirens: bool = False,
    links: ShortLinkStore | None = None,
    preferences: Source | None = None,
    **settings: Any,
) -> AsyncIterator[Rig]:
    """`sirens`: an MQTT channel too, over a session never connected (its deliveries are planned, and wait);
    `links`: where SMS short links are kept (none: SMS carry the gateway's address); `preferences`: where
    people's preferences are read from (none: only those a test puts)."""
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(reg or registry(rx)))
    engine, decoder = build_engine(path)
    directory = Directory(load_registries(path))
    options: dict[str, Any] = {
        "quiet_hours": None,
        "backoff_base": 0.1,
        "backoff_max": 2.0,
        "send_timeout": 2.0,
        "confirm_seconds": 3600.0,
        "webhooks": [f"{rx.url}/hook"],
        "webhook_secret": "hook-secret-for-tests",
        "public_url": "http://gateway",
        "push_hosts": [f"127.0.0.1:{rx.port}"],  # the receiver plays the push service
    }
    options.update(settings)
    lines = Lines()
    metrics = Metrics()
    rig_ref: list[Rig] = []

    async def acknowledge(ack: Acknowledgement) -> list[Transition]:
        out = engine.acknowledge(ack)
        rig_ref[0].emit(out)
        return out

    async with OutboxStore(tmp_path / "notify.sqlite3") as store, http_client(2.0) as client:
        notifier = await build_notifier(
            NotifySettings(**options),
            directory,
            store,
            client,
            LineQueue(lines, metrics.notify_lines_dropped),
            metrics,
            clock=time.time,
            acknowledge=acknowledge,
            report=lambda s: (out := engine.system(s), rig_ref[0].emit(out))[0],
            session=MqttSession(SessionOptions(host="127.0.0.1", port=9, client_id="rig"))
            if sirens
            else None,
            short_link_store=links,
            preference_source=preferences,
        )
        await notifier.load()
        app = create_app(Health(clock=time.time), metrics, notifier)
        r = Rig(notifier, engine, decoder, lines, app)
        rig_ref.append(r)
        task = asyncio.create_task(notifier.run())
        try:
            yield r
        finally:
            await notifier.flush()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
