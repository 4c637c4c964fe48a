"""MQTT publishing for simulators: a connected session, and prepared messages published at a rate.

A living estate is published by `simulators.live`; load tests and benchmarks publish prepared messages
(`publish_all`), each numbered per device, so a test can prove nothing was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Sequence

from gateway.mqtt import MqttSession, SessionOptions

Login = tuple[str, str]


@contextlib.asynccontextmanager
async def connected(
    host: str,
    port: int,
    client_id: str,
    login: Login | None = None,
    tls: ssl.SSLContext | None = None,
    protocol: int = 5,
) -> AsyncIterator[MqttSession]:
    """A clean-start session, connected, whose QoS 1 publishes are all PUBACKed before it closes.

    `login` is an account of the broker (`guardian devices provision --simulator` makes one that may speak
    for every device); a broker with access control sets the client id to that username. `protocol` 4
    speaks MQTT 3.1.1, as devices do to a NATS broker.
    """
    username, password = login if login is not None else (None, None)
    options = SessionOptions(
        host=host,
        port=port,
        client_id=client_id,
        clean_start=True,
        username=username,
        password=password,
        tls=tls,
        protocol=protocol,
    )
    session = MqttSession(options)
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(session.run(), name=f"mqtt-{client_id}")
        await session.wait_connected()
        try:
            yield session
        finally:
            await session.disconnect()
            runner.cancel()


async def publish_all(
    *,
    host: str,
    port: int,
    messages: Sequence[tuple[str, bytes]],
    rate: float | None = None,
    client_id: str = "guardian-load",
    login: Login | None = None,
    protocol: int = 5,
) -> int:
    """Publish (topic, payload) pairs at QoS 1, at most `rate` per second; returns once all are PUBACKed."""
    async with connected(host, port, client_id, login, protocol=protocol) as session:
        if rate is None:
            await asyncio.gather(*await session.publish_many(messages))
            return len(messages)
        started = time.monotonic()
        pending: list[asyncio.Future[int]] = []
        for i, (topic, payload) in enumerate(messages):
            fut = await session.publish_nowait(topic, payload, qos=1)
            if fut is not None:
                pending.append(fut)
            if i % 100 == 99:
                ahead = (i + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    return len(messages)
