"""A household's link against a real Mosquitto whose ACL refuses what the gateway publishes: the refusal is
reported, retried after a growing pause (never a tight loop), and the link stays up."""

from __future__ import annotations

import asyncio
import os
import pwd
import time
from pathlib import Path

from gateway.homeassistant.discovery import DeviceCard
from gateway.homeassistant.home import Home
from gateway.homeassistant.link import HomeLink
from gateway.homeassistant.states import LatestStates
from gateway.ops import services
from gateway.ops.broker_access import hash_password

USER, PASSWORD = "ha-gateway", "her own broker password"


def _broker(directory: Path, acl: str) -> services.ChildServer:
    directory.mkdir(parents=True)
    (directory / "passwd").write_text(f"{USER}:{hash_password(PASSWORD)}\n")
    (directory / "acl").write_text(acl)
    for f in ("passwd", "acl"):
        (directory / f).chmod(0o600)
    port = services.free_port()
    (directory / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nuser {pwd.getpwuid(os.geteuid()).pw_name}\nallow_anonymous false\n"
        f"password_file {directory / 'passwd'}\nacl_file {directory / 'acl'}\npersistence false\n"
        "log_dest stderr\nlog_type error\n"
    )
    return services.ChildServer(
        name="mosquitto-home",
        directory=directory,
        port=port,
        argv=[services.find_binary("mosquitto"), "-c", str(directory / "mosquitto.conf")],
        log=directory / "mosquitto.log",
    )


async def _acknowledge(alarm_id: str, by: str) -> list:  # type: ignore[type-arg]
    return []


def test_a_broker_refusing_our_publishes_is_reported_and_retried_with_a_pause(tmp_path: Path) -> None:
    broker = _broker(tmp_path / "broker", f"user {USER}\ntopic readwrite homeassistant/#\n")
    home = Home("t1", "h1", [DeviceCard("t1", "h1", "s-1", "co")], LatestStates())

    async def scenario() -> tuple[str | None, bool, int, float]:
        link = HomeLink(home, host="127.0.0.1", port=broker.port, username=USER, password=PASSWORD, tls=None,
                        discovery_prefix="homeassistant", acknowledge=_acknowledge, by="t1/p-1",
                        clock=time.time, client_id="test-refused", backoff_max=4.0)  # fmt: skip
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(link.run(), name="link")
            started = time.monotonic()
            for _ in range(200):  # 10 s at most
                if link.last_error is not None:
                    break
                await asyncio.sleep(0.05)
            first = time.monotonic()
            await asyncio.sleep(2.5)
            result = link.last_error, link.connected, link.announcements, first - started
            task.cancel()
        return result

    with broker:
        error, connected, attempts, took = asyncio.run(scenario())
    assert error is not None and "refused publish" in error and "0x87" in error, error
    assert connected, "the session stays up: it is the publish that is refused"
    assert took < 5 and 2 <= attempts <= 4, attempts  # 0.5-1 s, then 1-2 s: a few, never hundreds
