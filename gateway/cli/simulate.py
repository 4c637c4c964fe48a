"""Simulated estates and devices, and the whole system on one machine: `simulate`, `demo`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.errors import ConfigError


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
        protocol=args.mqtt_protocol,
    )
    asyncio.run(live)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.ops.demo import DemoOptions, run_demo

    if args.district:
        from gateway.ops.district_demo import run_district_demo

        return run_district_demo(Path(args.dir) / "district", duration=args.duration)

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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    p.add_argument(
        "--mqtt-protocol",
        type=int,
        choices=(4, 5),
        default=5,
        help="MQTT protocol level: 5, or 4 (3.1.1) for a broker that speaks nothing newer, such as NATS",
    )
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument("--incident-every", type=float, default=None, help="seconds between incidents")
    p.add_argument("--truth", type=Path, help="append each incident's ground truth here (JSONL)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_simulate_live)

    p = sub.add_parser("demo", help="run broker, database, gateway and a simulated estate on this machine")
    p.add_argument("--dir", default="var/demo", help="where the demo keeps its data")
    p.add_argument(
        "--district", action="store_true", help="3 NATS nodes, 3 gateway instances, several communities"
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--households", type=int, default=300)
    p.add_argument("--incident-every", type=float, default=180.0, help="seconds between incidents")
    p.add_argument("--mqtt-port", type=int, default=11883)
    p.add_argument("--influx-port", type=int, default=18086)
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--inbox-port", type=int, default=8025, help="the local inbox the demo's people use")
    p.set_defaults(func=cmd_demo)
