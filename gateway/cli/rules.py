"""The rules over history: `replay`, `evaluate`, and the daily `report`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.cli.common import settings_of
from gateway.errors import ConfigError


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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from simulators.evaluate import evaluate

    met = evaluate(households=args.households, days=args.days, names=args.scenario, month=not args.no_month)
    return 0 if met else 1


def cmd_report(args: argparse.Namespace) -> int:
    """Write one community's daily safety report (HTML, Chinese and English) from InfluxDB."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from gateway.config.registry_file import load_registries
    from gateway.influx.client import InfluxV1
    from gateway.ops.report import collect, render

    settings = settings_of(args)
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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

    p = sub.add_parser("evaluate", help="score the rules: scenario library and a normal winter month")
    p.add_argument("--households", type=int, default=100, help="households in the normal month")
    p.add_argument("--days", type=float, default=30.0, help="days in the normal month")
    p.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    p.add_argument("--no-month", action="store_true", help="scenarios only")
    p.set_defaults(func=cmd_evaluate)
