"""`make demo`: Mosquitto, InfluxDB, the gateway and a living simulated estate, all on this machine.

The estate is pilot-shaped (`simulators.pilot`: walk-ups and towers, elderly residents living alone,
grids with officers) and lives its normal winter life in real time (`simulators.world`), with an incident
every few minutes (`simulators.incidents`) so there is something to be told about. Every person in it
has an address on a local inbox (`gateway.ops.demo_inbox`), so what shows as notified reached somewhere a
person can read; InfluxDB runs with authentication on, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from dashboards.generate import provisioning_copy
from gateway.config.settings import InfluxSettings, Settings, load_settings
from gateway.errors import ConfigError
from gateway.influx.client import InfluxV1
from gateway.notify.setup import enrolment_link
from gateway.ops import services
from gateway.ops.broker_access import GATEWAY, MONITOR, SIMULATOR, Broker, BrokerAccess
from gateway.ops.demo_inbox import Inbox, address
from gateway.ops.influx_access import ADMIN, READER, WRITER, InfluxAccess
from gateway.runtime.app import QuietServer, run
from gateway.runtime.progress import Progress
from gateway.store.accounts import create_account
from gateway.store.db import open_store
from gateway.store.registry_import import sync_registries
from sensors.registry import SiteRegistry, parse_registry
from simulators import estate
from simulators.live import run_live
from simulators.pilot import pilot_estate, summary
from simulators.world import World

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    households: int = 300
    incident_every: float = 180.0
    duration: float | None = None
    mqtt_port: int = 11883
    influx_port: int = 18086
    http_port: int = 8080
    inbox_port: int = 8025
    seed: int = 2024


def run_demo(directory: Path, options: DemoOptions = DemoOptions()) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    bar = Progress(5)
    bar.step(f"generating the estate ({options.households:,} households)")
    registry = pilot_estate(households=options.households, site="demo", seed=options.seed)
    _addresses(registry, options.inbox_port)
    registry_file = directory / "registry.yaml"
    text = estate.dump(registry)
    registry_file.write_text(text)
    bar.step("provisioning device accounts on the broker")
    parsed = parse_registry(text, str(registry_file))
    access = BrokerAccess(directory / "access")
    access.provision(
        [parsed],
        Broker(port=options.mqtt_port),
        simulator=True,
        progress=lambda done, of: bar.count(done, of, "provisioning device accounts"),
    )
    broker = services.mosquitto(directory / "mosquitto", options.mqtt_port, access=access)
    database = services.influxd(directory / "influxdb", options.influx_port, auth=True)
    bar.step("starting Mosquitto")
    with broker:
        bar.step("starting InfluxDB")
        with database:
            services.wait_influx_ready(options.influx_port)
            influx = _influx_users(directory / "influxdb", options.influx_port)
            bar.step("writing Grafana provisioning and phone links")
            return _run(directory, options, registry, parsed, registry_file, access, bar, influx)


def _run(
    directory: Path,
    options: DemoOptions,
    registry: dict[str, Any],
    parsed: SiteRegistry,
    registry_file: Path,
    access: BrokerAccess,
    bar: Progress,
    influx: InfluxAccess,
) -> int:
    settings = load_settings(
        registry=registry_file,
        data_dir=directory / "gateway",
        mqtt={"port": options.mqtt_port, "username": GATEWAY, "password": access.login(GATEWAY)[1]},
        influx={
            "url": f"http://127.0.0.1:{options.influx_port}",
            "username": WRITER,
            "password": influx.writer_password(),
        },
        http={"port": options.http_port},
        notify={"public_url": f"http://127.0.0.1:{options.http_port}"},
    )
    grafana = provisioning_copy(directory / "grafana", f"http://127.0.0.1:{options.influx_port}")
    _grafana_login(grafana, influx.reader_password())
    sign_ins = asyncio.run(_accounts(settings, parsed, _people(registry)))
    banner = _banner(settings, registry, options, directory, access, sign_ins)
    bar.finish("demo ready")
    print(banner, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_demo(settings, registry, options, access.login(SIMULATOR)))
    with contextlib.suppress(Exception):
        print(asyncio.run(_stored(settings)), flush=True)
    return 0


def _banner(
    settings: Settings,
    registry: dict[str, Any],
    options: DemoOptions,
    directory: Path,
    access: BrokerAccess,
    sign_ins: dict[str, tuple[str, str]],
) -> str:
    people = _people(registry)
    links = dict(zip(people, asyncio.run(_links(settings, list(people.values()))), strict=True))
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in summary(registry).items())
    mqtt, influx, http = options.mqtt_port, options.influx_port, options.http_port
    secret = f'"$(cat {directory / "influxdb" / "accounts" / f"{READER}.password"})"'
    phone = "\n".join(f"  {role:<15} {links[role]}\n                  ({people[role]})" for role in links)
    accounts = "\n".join(f"  {role:<15} {user} / {password}" for role, (user, password) in sign_ins.items())
    return f"""
Gas Guardian demo: {counts}.
Normal winter life in real time; an incident every {options.incident_every:g} s (a gas leak, a forced
door, CO building up, an elderly resident's detector going silent), announced below as it starts.
  MQTT broker     mqtt://127.0.0.1:{mqtt}, one account per device ({access.directory}/devices/); alarms:
                  mosquitto_sub -p {mqtt} -u {MONITOR} -P "$(cat {access.account_file(MONITOR)})" \\
                    -t 'guardian/demo/alarm/#' -v
  Gateway health  http://127.0.0.1:{http}/healthz
  Metrics         http://127.0.0.1:{http}/metrics
  Phones' inbox    http://127.0.0.1:{options.inbox_port}/   (what every person in the estate was sent)
  InfluxDB        curl -G -u {READER}:{secret} http://127.0.0.1:{influx}/query \\
                    --data-urlencode db=guardian \\
                    --data-urlencode 'q=SELECT * FROM events.alarm ORDER BY time DESC LIMIT 10'
Sign in (new passwords each run):  resident app http://127.0.0.1:{http}/app/
                                   control room http://127.0.0.1:{http}/console/
                                   API          http://127.0.0.1:{http}/docs
{accounts}
Alarms on a phone without signing in (open the link there; push works on https or localhost):
{phone}
  Grafana         GF_PATHS_PROVISIONING={(directory / "grafana").resolve()} grafana-server …
                  (data source and six dashboards for this demo; docs/dashboards.md)
  Daily report    GUARDIAN_INFLUX__URL=http://127.0.0.1:{influx} GUARDIAN_INFLUX__USERNAME={READER} \\
                    GUARDIAN_INFLUX__PASSWORD={secret} \\
                    GUARDIAN_REGISTRY={directory}/registry.yaml \\
                    .venv/bin/guardian report --site demo --day {_site_today(registry)}
  Data            {directory}   (incidents' ground truth: truth.jsonl)
Press Ctrl-C to stop.
"""


def _influx_users(folder: Path, port: int) -> InfluxAccess:
    """InfluxDB's admin made on the first run and kept beside its data; the schema made as the admin; the
    gateway writes as its own user and Grafana and the report read as a read-only one, as on a site."""
    access = InfluxAccess(folder)
    url = f"http://127.0.0.1:{port}"
    try:
        admin = access.create_admin(url)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}\n(the demo's admin password file is missing: remove {folder} to start afresh)"
        ) from exc
    access.provision(InfluxSettings.model_validate({"url": url}), ADMIN, admin)
    return access


def _grafana_login(grafana: Path, password: str) -> None:
    """The demo's Grafana data source signs in as the read-only user, as a site's does."""
    source = grafana / "datasources" / "guardian.yaml"
    text = source.read_text()
    login = f"    user: {READER}\n    secureJsonData:\n      password: {password}\n"
    source.write_text(text.replace("    jsonData:\n", login + "    jsonData:\n", 1))
    source.chmod(0o600)


def _addresses(registry: dict[str, Any], port: int) -> None:
    """Every person in the estate reachable at the local inbox, as a site's people are at their phones."""
    people: list[dict[str, Any]] = []
    for building in registry["buildings"]:
        for unit in building["units"]:
            for household in unit["households"]:
                people += household.get("residents", []) + household.get("contacts", [])
    for grid in registry.get("grids", []):
        people += grid.get("officers", [])
    people += registry.get("property", []) + registry.get("maintenance", [])
    for person in people:
        person["notify"] = [address(port, person["id"])]


def _site_today(registry: dict[str, Any]) -> str:
    """The report's day is the site's calendar day, not this machine's."""
    zone = ZoneInfo(str(registry.get("timezone", "Asia/Shanghai")))
    return dt.datetime.now(zone).date().isoformat()


async def _accounts(
    settings: Settings, registry: SiteRegistry, people: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """The store loaded with the estate (as the gateway's start would, so it finds nothing left to do) and
    a sign-in for each of the demo's people."""
    roles = {"resident": "resident", "grid officer": "officer", "property staff": "property"}
    out: dict[str, tuple[str, str]] = {}
    async with open_store(settings.store_url()) as store:
        await sync_registries(store, [registry])
        for label, role in roles.items():
            username, password = f"demo-{role}", secrets.token_urlsafe(9)
            await create_account(
                store,
                username,
                password,
                role,
                site="demo",
                person=people[label],
                now=time.time(),
                replace=True,
            )
            out[label] = (username, password)
    return out


async def _links(settings: Settings, people: list[str]) -> list[str]:
    return [await enrolment_link(settings.notify, settings.data_dir, "demo", p, 7) for p in people]


def _people(registry: dict[str, Any]) -> dict[str, str]:
    """A resident living alone (who gets her own alarms), the first grid's officer, the control room."""
    flats = [h for b in registry["buildings"] for u in b["units"] for h in u["households"]]
    alone = next((h for h in flats if h["residents"][0].get("lives_alone")), flats[0])
    return {
        "resident": alone["residents"][0]["id"],
        "grid officer": registry["grids"][0]["officers"][0]["id"],
        "property staff": registry["property"][0]["id"],
    }


async def _demo(
    settings: Settings, registry: dict[str, Any], options: DemoOptions, login: tuple[str, str]
) -> None:
    """The gateway owns Ctrl-C (it sets `stop`); when it has stopped, the estate is stopped too."""
    stop = asyncio.Event()
    if options.duration is not None:
        asyncio.get_running_loop().call_later(options.duration, stop.set)

    def announce(text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} incident: {text}", flush=True)

    async def estate() -> None:
        await _subscribed(options.http_port)  # the first start has no session yet: nothing published is lost
        world = World(registry, time.time(), seed=options.seed, mains_heartbeat=60.0)
        await run_live(
            world,
            host="127.0.0.1",
            port=options.mqtt_port,
            incident_every=options.incident_every,
            announce=announce,
            truth=settings.data_dir.parent / "truth.jsonl",
            seed=options.seed,
            login=login,
        )

    inbox = QuietServer(
        uvicorn.Config(
            Inbox().app(),
            host="127.0.0.1",
            port=options.inbox_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )

    async with asyncio.TaskGroup() as tg:
        phones = tg.create_task(inbox.serve(), name="inbox")
        gateway = tg.create_task(run(settings, stop=stop), name="gateway")
        fleet = tg.create_task(estate(), name="estate")
        await gateway
        fleet.cancel()
        inbox.should_exit = True
        await phones


async def _subscribed(http_port: int) -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                health = (await client.get(f"http://127.0.0.1:{http_port}/healthz")).json()
                if health["mqtt"]["ok"]:
                    return
            await asyncio.sleep(0.2)


async def _stored(settings: Settings) -> str:
    async with InfluxV1(settings.influx) as influx:
        readings = await influx.count("sensor_reading")
        raised = await influx.count("alarm", "alarm_id", "\"transition\" = 'raised'")
        sent = await influx.count("notification", "alarm_id", "\"state\" = 'sent' OR \"state\" = 'delivered'")
    return (
        f"demo stopped; stored in InfluxDB: {readings} readings, {raised} alarms raised, "
        f"{sent} notifications sent"
    )
