"""Running the gateway and checking its configuration: `run`, `check-config`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli.common import settings_of
from gateway.errors import ConfigError


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.runtime.heap import settle_heap, tune_malloc

    tune_malloc()
    settings = settings_of(args)
    if args.cluster:
        settings.cluster.servers = [u.strip() for u in args.cluster.split(",") if u.strip()]
    if args.role == "api":  # a district's API replica: the HTTP app from the store, no rules
        from gateway.runtime.api_role import refuse_api_settings, run_api

        refuse_api_settings(settings)
        asyncio.run(run_api(settings))
        return 0
    if args.instance:  # also with the servers in GUARDIAN_CLUSTER__SERVERS (guardian-instance@.service)
        if not settings.cluster.servers:
            raise ConfigError("--instance is a district's: give --cluster or GUARDIAN_CLUSTER__SERVERS")
        settings.cluster.instance = args.instance
    if settings.cluster.servers:
        from gateway.district.instance import run_cluster

        asyncio.run(run_cluster(settings, settled=settle_heap))
        return 0
    from gateway.runtime.app import run  # the single-box composition root, which an instance never loads

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

    settings = settings_of(args)
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run the gateway")
    p.add_argument("--config", type=Path, help="YAML settings file (environment GUARDIAN_… overrides it)")
    p.add_argument("--registry", type=Path, help="registry YAML file or folder")
    p.add_argument(
        "--cluster", metavar="URLS", help="NATS servers, comma-separated: run as one instance of a district"
    )
    p.add_argument("--instance", help="this instance's name in the district (default: host-pid)")
    p.add_argument(
        "--role",
        choices=["api"],
        help="api: serve a district's API and pages from its PostgreSQL store (needs --cluster), no rules",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate settings and registry without starting anything")
    p.add_argument("--config", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument(
        "--probe", action="store_true", help="also ask the broker and InfluxDB if they take anyone"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a setting is weak")
    p.set_defaults(func=cmd_check_config)
