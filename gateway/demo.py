"""`make demo`: Mosquitto, InfluxDB, the gateway and a simulated estate, all on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from gateway import services
from gateway.app import run
from gateway.config import Settings, load_settings
from gateway.influx import InfluxV1
from gateway.notify.setup import enrolment_link
from simulators import estate
from simulators.fleet import publish_door_heartbeats, publish_fleet

log = logging.getLogger(__name__)

MQTT_PORT = 11883
INFLUX_PORT = 18086
HTTP_PORT = 8080


def run_demo(directory: Path, *, duration: float | None = None) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    registry = estate.small_estate(site="demo", buildings=3, units=2, households_per_unit=6)
    registry_file = directory / "registry.yaml"
    registry_file.write_text(estate.dump(registry))
    broker = services.mosquitto(directory / "mosquitto", MQTT_PORT)
    database = services.influxd(directory / "influxdb", INFLUX_PORT)
    with broker, database:
        services.wait_influx_ready(INFLUX_PORT)
        settings = load_settings(
            registry=registry_file,
            data_dir=directory / "gateway",
            mqtt={"port": MQTT_PORT},
            influx={"url": f"http://127.0.0.1:{INFLUX_PORT}"},
            http={"port": HTTP_PORT},
        )
        sensors = estate.sensor_ids(registry)
        resident = registry["buildings"][0]["units"][0]["households"][0]["residents"][0]["id"]
        link = asyncio.run(enrolment_link(settings.notify, settings.data_dir, "demo", resident, 7))
        print(
            f"""
Gas Guardian demo: {len(sensors)} simulated detectors publishing every 5 s.
  MQTT broker     mqtt://127.0.0.1:{MQTT_PORT}   (mosquitto_sub -p {MQTT_PORT} -t 'guardian/#' -v)
  Gateway health  http://127.0.0.1:{HTTP_PORT}/healthz
  Metrics         http://127.0.0.1:{HTTP_PORT}/metrics
  Resident app    {link}
                  (alarm push for resident {resident}; other people: guardian enroll --site demo --person ID)
  InfluxDB        curl -G http://127.0.0.1:{INFLUX_PORT}/query --data-urlencode db=guardian \\
                    --data-urlencode 'q=SELECT last(co_ppm) FROM sensor_reading GROUP BY device'
  Data            {directory}
Press Ctrl-C to stop.
""",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_demo(settings, sensors, estate.door_ids(registry), duration))
        with contextlib.suppress(Exception):
            stored = asyncio.run(_count(settings))
            print(f"demo stopped; {stored} readings stored in InfluxDB")
    return 0


async def _demo(settings: Settings, sensors: list[str], doors: list[str], duration: float | None) -> None:
    """The gateway owns Ctrl-C (it sets `stop`); when it has stopped, the fleet is stopped too."""
    stop = asyncio.Event()
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    async with asyncio.TaskGroup() as tg:
        gateway = tg.create_task(run(settings, stop=stop), name="gateway")
        fleet = tg.create_task(
            publish_fleet(host="127.0.0.1", port=MQTT_PORT, site="demo", devices=sensors, interval=5.0),
            name="fleet",
        )
        heartbeats = tg.create_task(
            publish_door_heartbeats(host="127.0.0.1", port=MQTT_PORT, site="demo", doors=doors), name="doors"
        )
        await gateway
        fleet.cancel()
        heartbeats.cancel()


async def _count(settings: Settings) -> int:
    async with InfluxV1(settings.influx) as influx:
        return await influx.count("sensor_reading")
