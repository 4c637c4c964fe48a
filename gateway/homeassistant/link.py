"""One household's outbound connection to its resident's own MQTT broker, where her Home Assistant listens.

The gateway connects out (her broker, her credentials; never the district broker) with a will: its
availability topic, retained `offline`, so Home Assistant marks her devices unavailable when the gateway
goes away; on connect it publishes `online` there, then every device's discovery message (retained), then
every state. States drain from `LatestStates` at most once a second per entity. When Home Assistant
announces itself (`homeassistant/status` = `online`, after a restart) the discovery messages go again.

A press of a device's acknowledge button arrives on that device's command topic; a press naming a device
that is not this household's is ignored and logged (her broker is hers: anyone on it may publish). Presses
wait in a queue of `PRESSES` (a press beyond is dropped and logged: pressing again does the same thing).

The broker refusing her credentials, or being away, is logged as an error naming the household, once per
distinct failure, and retried with the session's capped, jittered backoff; so is her broker refusing a
publish (its ACL): then the whole announcement is tried again after a capped, jittered pause. Neither ever
stops the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable

from alerts.signals import Transition
from gateway.homeassistant.discovery import (
    OFFLINE,
    ONLINE,
    PRESS,
    command_filter,
    config_topic,
    device_of_command,
    discovery,
    gateway_topic,
)
from gateway.homeassistant.home import Home
from gateway.mqtt import MqttSession, Publish, SessionOptions, Will
from gateway.observe.metrics import Metrics

log = logging.getLogger(__name__)

PRESSES = 16
WITHDRAW_WAIT = 5.0
"""Seconds an opt-out waits for her broker to take the empty retained messages."""
Acknowledge = Callable[[str, str], Awaitable[list[Transition]]]


class HomeLink:
    def __init__(
        self,
        home: Home,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        tls: ssl.SSLContext | None,
        discovery_prefix: str,
        acknowledge: Acknowledge,
        by: str,
        clock: Callable[[], float],
        client_id: str,
        backoff_max: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.home = home
        self.prefix = discovery_prefix
        self.acknowledge = acknowledge
        self.by = by
        self.clock = clock
        self.gateway_topic = gateway_topic(home.site, home.household)
        self.status_topic = f"{discovery_prefix}/status"
        self.session = MqttSession(
            SessionOptions(
                host=host,
                port=port,
                client_id=client_id,
                subscriptions=[(self.status_topic, 1), (command_filter(home.site), 1)],
                username=username,
                password=password,
                tls=tls,
                will=Will(topic=self.gateway_topic, payload=OFFLINE, qos=1, retain=True),
                clean_start=True,
                session_expiry=0,
                receive_maximum=64,
                publish_window=64,
                backoff_initial=1.0,
                backoff_max=backoff_max,
            ),
            self._deliver,
        )
        self.where = f"{home.site}/{home.household} at {host}:{port}"
        self._wake = asyncio.Event()
        self._rediscover = asyncio.Event()
        self._presses: asyncio.Queue[str] = asyncio.Queue(PRESSES)
        self._reported: str | None = None
        self._withdrawing = False
        self._refused: str | None = None
        self.backoff_max = backoff_max
        self.published_configs = 0
        self.announcements = 0

    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def last_error(self) -> str | None:
        """Why her broker cannot be reached, or refuses what the gateway publishes; None while all is well."""
        return self.session.last_error or self._refused

    def wake(self) -> None:
        """States are waiting (called by the bridge after it fed the home)."""
        self._wake.set()

    # -- what comes from her broker ---------------------------------------------------------------------
    def _deliver(self, publishes: list[Publish], generation: int) -> None:
        self.session.ack([p.packet_id for p in publishes if p.qos == 1], generation)
        for p in publishes:
            if p.topic == self.status_topic:
                if p.payload.strip() == ONLINE:
                    log.info("Home Assistant of %s is online: discovery again", self.where)
                    self._rediscover.set()
                continue
            device = device_of_command(self.home.site, p.topic)
            if device is None or p.payload.strip() != PRESS.encode():
                continue
            if device not in self.home.cards:
                self._count("not_hers")
                log.warning("Home Assistant press for %s on the broker of %s ignored: not its device",
                            device, self.where)  # fmt: skip
                continue
            try:
                self._presses.put_nowait(device)
            except asyncio.QueueFull:
                self._count("dropped")
                log.warning("Home Assistant press for %s dropped: %d presses waiting", device, PRESSES)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.home_assistant_presses.labels(outcome=outcome).inc()

    async def _acknowledging(self) -> None:
        while True:
            device = await self._presses.get()
            alarms = self.home.open_alarms(device)
            self._count("acknowledged" if alarms else "nothing_open")
            for alarm_id in alarms:
                try:
                    await self.acknowledge(alarm_id, self.by)
                    log.info("alarm %s acknowledged from Home Assistant of %s", alarm_id, self.where)
                except Exception:
                    log.exception("acknowledging %s from Home Assistant failed", alarm_id)

    # -- what goes to her broker ------------------------------------------------------------------------
    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.session.run(), name=f"ha-session-{self.home.household}")
            tg.create_task(self._publishing(), name=f"ha-publish-{self.home.household}")
            tg.create_task(self._acknowledging(), name=f"ha-acknowledge-{self.home.household}")
            tg.create_task(self._reporting(), name=f"ha-report-{self.home.household}")

    async def _reporting(self) -> None:
        """An error line for each new way the link fails, and a line when it is back."""
        while True:
            error = self.last_error
            if error != self._reported:
                if error is not None:
                    log.error("Home Assistant broker of household %s: %s; retrying", self.where, error)
                elif self._reported is not None:
                    log.info("Home Assistant broker of household %s reached again", self.where)
                self._reported = error
            await asyncio.sleep(0.5)

    async def _publishing(self) -> None:
        refused = 1.0
        while True:
            await self.session.wait_connected()
            generation = self.session.generation
            try:
                await self._announce()
                self._refused, refused = None, 1.0
                while self.session.connected and self.session.generation == generation:
                    self._wake.clear()
                    if self._rediscover.is_set():
                        self._rediscover.clear()
                        await self._announce()
                    for topic, payload in [] if self._withdrawing else self.home.states.due(self.clock()):
                        await self.session.publish(topic, payload, qos=1, retain=True)
                        if self.metrics is not None:
                            self.metrics.home_assistant_states.inc()
                    wait = self.home.states.wait(self.clock())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), 1.0 if wait is None else min(wait, 1.0))
            except ConnectionError as exc:
                if not self.session.connected or self.session.generation != generation:
                    log.info("Home Assistant link of %s dropped while publishing: %s", self.where, exc)
                    continue
                # Connected, yet a publish refused (her broker's ACL): wait before trying it all again.
                self._refused = str(exc)
                pause = random.uniform(refused / 2, refused)
                refused = min(refused * 2, self.backoff_max)
                await asyncio.sleep(pause)

    async def _announce(self) -> None:
        """Online, every device's discovery message, then every state again (not once opting out)."""
        if self._withdrawing:
            return
        self.announcements += 1
        await self.session.publish(self.gateway_topic, ONLINE, qos=1, retain=True)
        for card in self.home.cards.values():
            payload = json.dumps(discovery(card), ensure_ascii=False, separators=(",", ":")).encode()
            await self.session.publish(config_topic(self.prefix, card), payload, qos=1, retain=True)
            self.published_configs += 1
        self.home.states.resend_all()

    async def withdraw(self) -> bool:
        """Opt-out: empty retained messages on every config and state topic (Home Assistant removes the
        devices; her broker forgets the values) and `offline`. False when her broker could not be reached."""
        self._withdrawing = True
        try:
            async with asyncio.timeout(WITHDRAW_WAIT):
                await self.session.wait_connected()
                for card in self.home.cards.values():
                    await self.session.publish(config_topic(self.prefix, card), b"", qos=1, retain=True)
                for topic in self.home.topics():
                    await self.session.publish(topic, b"", qos=1, retain=True)
                await self.session.publish(self.gateway_topic, b"", qos=1, retain=True)
                self.home.states.forget()
                await self.session.disconnect()
                return True
        except (TimeoutError, ConnectionError):
            return False
