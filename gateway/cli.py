"""`guardian`: the gateway's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from gateway.errors import ConfigError, GuardianError


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from gateway.config.settings import load_settings

    overrides = {}
    if getattr(args, "registry", None):
        overrides["registry"] = args.registry
    return load_settings(args.config, **overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.runtime.app import run
    from gateway.runtime.heap import tune_malloc

    tune_malloc()
    settings = _settings(args)
    asyncio.run(run(settings))
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Valid settings and registry; then weak settings as warnings (errors with --strict)."""
    import os

    from alerts.site import compile_site_model
    from gateway.config.registry_file import load_registries
    from gateway.config.settings import SECRETS_DIR_ENV
    from gateway.runtime.audit import placeholder_secrets, probe_now, weak_settings
    from sensors.index import compile_index

    settings = _settings(args)
    registries = load_registries(settings.registry)
    index = compile_index(registries)
    try:  # the rules' settings, per site and from the environment, as the gateway compiles them at start
        compile_site_model(registries, index, settings.alerts.rules)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"rule settings: {exc}") from exc
    for reg in registries:
        households = sum(1 for _ in reg.households())
        print(f"site {reg.site}: {len(reg.buildings)} buildings, {households} households")
    placeholders = placeholder_secrets(settings)
    if placeholders:
        raise ConfigError("placeholder secrets; the gateway will not start:\n  " + "\n  ".join(placeholders))
    secrets_dir = os.environ.get(SECRETS_DIR_ENV)
    weak = weak_settings(settings, Path(secrets_dir) if secrets_dir else None)
    if args.probe:
        weak += probe_now(settings)
    for finding in weak:
        print(f"weak: {finding}")
    mqtt = f"{settings.mqtt.host}:{settings.mqtt.port}"
    print(f"ok: {len(index)} devices; MQTT {mqtt}; InfluxDB {settings.influx.url}; {len(weak)} weak settings")
    return 1 if weak and args.strict else 0


def cmd_devices(args: argparse.Namespace) -> int:
    """Per-device broker credentials: provision all, rotate or revoke one (docs/security.md)."""
    from gateway.config.registry_file import load_registries
    from gateway.ops.broker_access import Broker, BrokerAccess

    settings = _settings(args)
    registries = load_registries(settings.registry)
    access = BrokerAccess(args.dir)
    broker = Broker(
        host=args.host or settings.mqtt.host,
        port=args.port or settings.mqtt.port,
        tls=settings.mqtt.tls,
        ca=str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None,
    )
    reload = "reload the broker to apply (systemctl reload mosquitto, or SIGHUP)"
    if args.action == "provision":
        from gateway.runtime.progress import Progress

        bar = Progress(1)
        bar.step("provisioning devices")
        created, skipped = access.provision(
            registries,
            broker,
            simulator=args.simulator,
            concentrators=args.concentrators,
            progress=lambda done, of: bar.count(done, of, "provisioning devices"),
        )
        bar.finish("provisioned")
        print(
            f"{access.directory}: {len(created)} devices provisioned, {len(access.hashes())} accounts, "
            f"{len(skipped)} revoked devices skipped"
        )
        print(f"broker: include {access.directory / 'mosquitto.conf'}; {reload}")
        print(f"gateway: GUARDIAN_SECRETS_DIR={access.secrets_dir}")
        print(f"installers: {access.directory / 'devices'}/SITE/DEVICE.json")
    elif args.action == "rotate":
        for device_id in args.devices:
            device = access.rotate(registries, device_id, broker)
            print(f"{device.id}: new credential in {access.device_file(device)}")
        print(reload)
    else:
        for device_id in args.devices:
            access.revoke(registries, device_id)
            print(f"{device_id}: revoked")
        print(f"{reload}; connected clients using a revoked credential are disconnected")
    return 0


def cmd_certs(args: argparse.Namespace) -> int:
    """A local CA (made once) and certificates from it, for a site without its own PKI."""
    import datetime as dt

    from gateway.ops.certs import LocalCA

    ca = LocalCA(args.dir)
    now = dt.datetime.now(dt.UTC)
    if ca.ensure(args.site, now):
        print(f"created CA {ca.cert_path} (its key {ca.key_path} never leaves this folder)")
    for name in args.server or []:
        cert, key = ca.issue(name, hosts=args.host or [name], client=False, now=now)
        print(f"server {name}: {cert} {key} for {', '.join(args.host or [name])}")
    for name in args.client or []:
        cert, key = ca.issue(name, hosts=[], client=True, now=now)
        print(f"client {name}: {cert} {key}")
    print(
        f"clients trust {ca.cert_path}: GUARDIAN_MQTT__CA_FILE, GUARDIAN_INFLUX__CA_FILE (docs/security.md)"
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import msgspec
    import yaml

    from gateway.pipeline.replay import build_engine, replay

    overrides = None
    if args.settings:
        loaded = yaml.safe_load(Path(args.settings).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{args.settings}: expected a mapping of site id to rule settings")
        overrides = loaded
    engine, decoder = build_engine(args.registry, overrides)
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer

    def emit(t):  # type: ignore[no-untyped-def]
        out.write(encoder.encode(t.to_json()) + b"\n")

    if str(args.messages) == "-":
        replay(engine, decoder, sys.stdin.buffer, until=args.until, emit=emit)
    else:
        with Path(args.messages).open("rb") as source:
            replay(engine, decoder, source, until=args.until, emit=emit)
    out.flush()
    return 0


def cmd_enroll(args: argparse.Namespace) -> int:
    """Print the link a person opens on their phone to receive alarms there (no account needed)."""
    from gateway.config.registry_file import load_registries
    from gateway.notify.directory import Directory
    from gateway.notify.setup import enrolment_link

    settings = _settings(args)
    directory = Directory(load_registries(settings.registry))
    if not directory.knows(args.site, args.person):
        raise ConfigError(f"no person {args.person!r} in site {args.site!r} of {settings.registry}")
    link = enrolment_link(settings.notify, settings.data_dir, args.site, args.person, args.days)
    print(asyncio.run(link))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write one community's daily safety report (HTML, Chinese and English) from InfluxDB."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from gateway.config.registry_file import load_registries
    from gateway.influx.client import InfluxV1
    from gateway.ops.report import collect, render

    settings = _settings(args)
    registry = next((r for r in load_registries(settings.registry) if r.site == args.site), None)
    if registry is None:
        raise ConfigError(f"no site {args.site!r} in {settings.registry}")
    zone = ZoneInfo(registry.timezone)
    day = dt.date.fromisoformat(args.day) if args.day else dt.datetime.now(zone).date() - dt.timedelta(days=1)

    async def build() -> str:
        async with InfluxV1(settings.influx) as influx:
            return render(await collect(influx, registry.site, registry.name or registry.site, day, zone))

    html = asyncio.run(build())
    out = args.out or Path(f"report-{registry.site}-{day.isoformat()}.html")
    out.write_text(html, encoding="utf-8")
    print(out)
    return 0


def cmd_simulate_estate(args: argparse.Namespace) -> int:
    from sensors.registry import parse_registry
    from simulators.estate import dump
    from simulators.pilot import pilot_estate, summary

    registry = pilot_estate(households=args.households, site=args.site, seed=args.seed)
    text = dump(registry)
    parse_registry(text, str(args.out))  # what we write must load
    args.out.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in summary(registry).items())
    print(f"{args.out}: {counts}")
    return 0


def cmd_simulate_scenario(args: argparse.Namespace) -> int:
    import json

    from simulators.estate import dump
    from simulators.library import SCENARIOS

    if args.name not in SCENARIOS:
        raise ConfigError(f"no scenario {args.name!r}; the library has: {', '.join(SCENARIOS)}")
    sc = SCENARIOS[args.name]
    registry, world = sc.build()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "registry.yaml").write_text(dump(registry), encoding="utf-8")
    with (out / "messages.jsonl").open("wb") as f:
        for line in world.lines(world.start, sc.end, step=3600.0):
            f.write(line + b"\n")
    with (out / "truth.jsonl").open("w", encoding="utf-8") as f:
        for e in sc.truth:
            f.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
    print(f"{out}: registry.yaml, messages.jsonl, truth.jsonl ({sc.title}); replay until {sc.end:.0f}")
    return 0


def cmd_simulate_live(args: argparse.Namespace) -> int:
    import time

    import yaml

    from gateway.config.registry_file import load_registries
    from simulators.live import run_live
    from simulators.world import World

    load_registries(args.registry)  # refuse a registry the gateway would refuse
    registry = yaml.safe_load(args.registry.read_text(encoding="utf-8"))
    world = World(registry, time.time(), seed=args.seed)
    login = None
    if args.username:
        if args.password_file is None:
            raise ConfigError("--username needs --password-file")
        login = (args.username, args.password_file.read_text(encoding="utf-8").strip())
    live = run_live(
        world,
        host=args.host,
        port=args.port,
        login=login,
        speed=args.speed,
        incident_every=args.incident_every,
        announce=lambda text: print(f"{time.strftime('%H:%M:%S')} incident: {text}", flush=True),
        truth=args.truth,
        seed=args.seed,
    )
    asyncio.run(live)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from simulators.evaluate import evaluate

    met = evaluate(households=args.households, days=args.days, names=args.scenario, month=not args.no_month)
    return 0 if met else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.ops.demo import DemoOptions, run_demo

    options = DemoOptions(
        households=args.households,
        incident_every=args.incident_every,
        duration=args.duration,
        mqtt_port=args.mqtt_port,
        influx_port=args.influx_port,
        http_port=args.http_port,
        inbox_port=args.inbox_port,
    )
    return run_demo(Path(args.dir), options)


def cmd_registry_import(args: argparse.Namespace) -> int:
    """A registry YAML (the whole site) or a CSV roster (residents of the households it lists)."""
    import time

    from gateway.config.registry_file import load_registries
    from gateway.store.db import open_store
    from gateway.store.registry_import import import_registry, import_roster, parse_roster

    settings = _settings(args)

    async def go() -> list[str]:
        async with open_store(settings.store_url()) as store:
            if args.file.suffix.lower() == ".csv":
                if not args.site:
                    raise ConfigError(f"{args.file}: a roster belongs to one site: give --site")
                rows = parse_roster(args.file.read_text(encoding="utf-8-sig"), str(args.file))
                return [f"site {args.site}: {(await import_roster(store, args.site, rows)).summary()}"]
            return [
                f"site {reg.site}: {(await import_registry(store, reg)).summary()}"
                for reg in load_registries(args.file)
            ]

    started = time.monotonic()
    for line in asyncio.run(go()):
        print(line)
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


def cmd_store(args: argparse.Namespace) -> int:
    """Upgrade the store's schema now (operators), or write a migration for changed models (developers)."""
    from alembic import command

    from gateway.store.db import alembic_config, open_store

    settings = _settings(args)

    async def go() -> None:
        async with open_store(settings.store_url(), migrate=args.action == "upgrade") as store:
            if args.action == "revision":
                async with store.engine.begin() as conn:
                    await conn.run_sync(
                        lambda c: command.revision(alembic_config(c), message=args.message, autogenerate=True)
                    )

    asyncio.run(go())
    print("store upgraded to the newest schema" if args.action == "upgrade" else "migration written")
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    """Sign-ins for the API and the pages: add (password from --password-file or asked), list, disable."""
    import getpass
    import time

    from sqlalchemy import select

    from gateway.store.accounts import create_account
    from gateway.store.db import open_store
    from gateway.store.schema import Account

    settings = _settings(args)

    async def go() -> None:
        async with open_store(settings.store_url()) as store:
            if args.action == "add":
                if args.password_file:
                    password = args.password_file.read_text(encoding="utf-8").strip()
                else:
                    password = getpass.getpass(f"password for {args.username}: ")
                await create_account(
                    store,
                    args.username,
                    password,
                    args.role,
                    site=args.site,
                    person=args.person,
                    name=args.name or "",
                    language=args.language,
                    now=time.time(),
                    replace=args.replace,
                )
                print(f"account {args.username} ({args.role}) saved")
            elif args.action == "list":
                async with store.session() as session:
                    for a in (await session.scalars(select(Account).order_by(Account.username))).all():
                        state = " disabled" if a.disabled else ""
                        print(f"{a.username}\t{a.role}\t{a.site or '*'}\t{a.person or ''}{state}")
            else:
                async with store.session() as session, session.begin():
                    account = await session.get(Account, args.username)
                    if account is None:
                        raise ConfigError(f"no account {args.username!r}")
                    account.disabled = True
                    account.token_version += 1
                print(f"account {args.username} disabled")

    asyncio.run(go())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="guardian", description="Gas Guardian gateway")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the gateway")
    p.add_argument("--config", type=Path, help="YAML settings file (environment GUARDIAN_… overrides it)")
    p.add_argument("--registry", type=Path, help="registry YAML file or folder")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate settings and registry without starting anything")
    p.add_argument("--config", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument(
        "--probe", action="store_true", help="also ask the broker and InfluxDB if they take anyone"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a setting is weak")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("devices", help="per-device MQTT credentials and ACL for Mosquitto")
    p.add_argument("--config", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument("--dir", type=Path, required=True, help="the broker's access folder")
    p.add_argument("--host", help="broker host written for installers (default: mqtt.host)")
    p.add_argument("--port", type=int, help="broker port written for installers (default: mqtt.port)")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("provision", help="credentials for every device lacking one; ACL; gateway account")
    a.add_argument(
        "--simulator", action="store_true", help="also an account speaking for every device (demos only)"
    )
    a.add_argument(
        "--concentrators", action="store_true", help="an account per site for its _batch topic only"
    )
    a = acts.add_parser("rotate", help="a new password for these devices (re-admits revoked ones)")
    a.add_argument("devices", nargs="+")
    a = acts.add_parser("revoke", help="refuse these devices until rotated back in")
    a.add_argument("devices", nargs="+")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("registry", help="the relational store's copy of the registry")
    p.add_argument("--config", type=Path)
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser(
        "import", help="load or update a site from registry YAML, or residents from a CSV roster"
    )
    a.add_argument("file", type=Path, help="registry .yaml (or a folder of them) or roster .csv")
    a.add_argument("--site", help="the site a CSV roster belongs to")
    p.set_defaults(func=cmd_registry_import)

    p = sub.add_parser("store", help="the relational store's schema (Alembic migrations)")
    p.add_argument("--config", type=Path)
    acts = p.add_subparsers(dest="action", required=True)
    acts.add_parser(
        "upgrade", help="migrate the database to the newest schema (the gateway also does at start)"
    )
    a = acts.add_parser(
        "revision", help="developers: write a migration for what changed in gateway/store/schema.py"
    )
    a.add_argument("message")
    p.set_defaults(func=cmd_store)

    p = sub.add_parser("accounts", help="sign-ins for the API, the resident app and the console")
    p.add_argument("--config", type=Path)
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("add", help="add an account (or --replace one: new password, old tokens revoked)")
    a.add_argument("username")
    a.add_argument(
        "--role", required=True, choices=["resident", "officer", "property", "maintenance", "admin"]
    )
    a.add_argument("--site", help="the site (every role but admin)")
    a.add_argument("--person", help="the registry person id (residents: their pseudonym; officers: their id)")
    a.add_argument("--name", help="display name")
    a.add_argument("--language", default="zh", choices=["zh", "en"])
    a.add_argument("--password-file", type=Path, help="read the password from this file instead of asking")
    a.add_argument("--replace", action="store_true")
    acts.add_parser("list", help="every account, its role and place")
    a = acts.add_parser("disable", help="refuse this account's sign-in and revoke its tokens")
    a.add_argument("username")
    p.set_defaults(func=cmd_accounts)

    p = sub.add_parser("certs", help="a local certificate authority and certificates, for a site without PKI")
    p.add_argument("--dir", type=Path, required=True, help="the CA's folder (ca.crt, ca.key, certificates)")
    p.add_argument("--site", default="site", help="named in the certificates' organisation")
    p.add_argument("--server", action="append", help="issue a server certificate NAME.crt (repeatable)")
    p.add_argument("--host", action="append", help="DNS name or IP address the server answers on")
    p.add_argument("--client", action="append", help="issue a client certificate NAME.crt (repeatable)")
    p.set_defaults(func=cmd_certs)

    p = sub.add_parser("replay", help="run recorded messages through the rules in event time")
    p.add_argument("--registry", type=Path, required=True, help="registry YAML file or folder")
    p.add_argument("--settings", type=Path, help="YAML {site: {rule setting: value}} to try against history")
    p.add_argument("--until", type=float, help="advance the clock to this UNIX time at the end")
    p.add_argument("messages", help="JSONL file of {topic, payload} lines, or - for stdin")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("report", help="write a community's daily safety report (HTML, Chinese and English)")
    p.add_argument("--config", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument("--site", required=True)
    p.add_argument("--day", help="YYYY-MM-DD in the site's time zone (default: yesterday)")
    p.add_argument("--out", type=Path, help="file to write (default: report-SITE-DAY.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("enroll", help="print a person's link for receiving alarms on their phone")
    p.add_argument("--config", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument("--site", required=True)
    p.add_argument("--person", required=True, help="resident, contact, officer or staff id in the registry")
    p.add_argument("--days", type=float, default=7.0, help="how long the link works")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("simulate", help="simulated estates and devices")
    sim = p.add_subparsers(dest="what", required=True)
    p = sim.add_parser("estate", help="write a registry at the scale of the pilot estate (docs/context.md)")
    p.add_argument("--out", type=Path, required=True, help="registry YAML to write")
    p.add_argument("--households", type=int, default=2077)
    p.add_argument("--site", default="yanghe")
    p.add_argument("--seed", type=int, default=2024)
    p.set_defaults(func=cmd_simulate_estate)
    p = sim.add_parser(
        "scenario", help="write one library scenario: registry, messages (JSONL), ground truth"
    )
    p.add_argument("name", help="a scenario of simulators/library.py (guardian evaluate lists them)")
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    p.set_defaults(func=cmd_simulate_scenario)
    p = sim.add_parser("live", help="publish a registry's devices living normal life over MQTT")
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument(
        "--username", help="broker account speaking for every device (devices provision --simulator)"
    )
    p.add_argument("--password-file", type=Path, help="that account's password, e.g. accounts/NAME.password")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument("--incident-every", type=float, default=None, help="seconds between incidents")
    p.add_argument("--truth", type=Path, help="append each incident's ground truth here (JSONL)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_simulate_live)

    p = sub.add_parser("evaluate", help="score the rules: scenario library and a normal winter month")
    p.add_argument("--households", type=int, default=100, help="households in the normal month")
    p.add_argument("--days", type=float, default=30.0, help="days in the normal month")
    p.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    p.add_argument("--no-month", action="store_true", help="scenarios only")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="run broker, database, gateway and a simulated estate on this machine")
    p.add_argument("--dir", default="var/demo", help="where the demo keeps its data")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--households", type=int, default=300)
    p.add_argument("--incident-every", type=float, default=180.0, help="seconds between incidents")
    p.add_argument("--mqtt-port", type=int, default=11883)
    p.add_argument("--influx-port", type=int, default=18086)
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--inbox-port", type=int, default=8025, help="the local inbox the demo's people use")
    p.set_defaults(func=cmd_demo)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per InfluxDB write is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "setup plugin …" at every start
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except GuardianError as exc:
        print(f"error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
