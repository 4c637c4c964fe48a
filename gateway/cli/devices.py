"""Devices' credentials at the broker and certificates for a site without PKI: `devices`, `certs`."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import settings_of


def cmd_devices(args: argparse.Namespace) -> int:
    """Per-device broker credentials: provision all, rotate or revoke one (docs/security.md)."""
    from gateway.config.registry_file import load_registries
    from gateway.ops.broker_access import Broker, BrokerAccess

    settings = settings_of(args)
    registries = load_registries(settings.registry)
    access = BrokerAccess(args.dir)
    broker = Broker(
        host=args.host or settings.mqtt.host,
        port=args.port or settings.mqtt.port,
        tls=settings.mqtt.tls,
        ca=str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None,
    )
    from gateway.ops.nats_access import NatsAccess

    nats = NatsAccess(access)
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
            edges=args.edges,
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
    if getattr(args, "nats", False) or nats.enabled:
        users = nats.write(registries)
        print(f"NATS: {users} users in {nats.auth_file}; include it in every node, then reload them")
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    a.add_argument(
        "--edges", action="store_true", help="an account per site for its edge Mosquitto's bridge to NATS"
    )
    a.add_argument(
        "--nats", action="store_true", help="also the NATS cluster's users and permissions (nats-auth.conf)"
    )
    a = acts.add_parser("rotate", help="a new password for these devices (re-admits revoked ones)")
    a.add_argument("devices", nargs="+")
    a = acts.add_parser("revoke", help="refuse these devices until rotated back in")
    a.add_argument("devices", nargs="+")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("certs", help="a local certificate authority and certificates, for a site without PKI")
    p.add_argument("--dir", type=Path, required=True, help="the CA's folder (ca.crt, ca.key, certificates)")
    p.add_argument("--site", default="site", help="named in the certificates' organisation")
    p.add_argument("--server", action="append", help="issue a server certificate NAME.crt (repeatable)")
    p.add_argument("--host", action="append", help="DNS name or IP address the server answers on")
    p.add_argument("--client", action="append", help="issue a client certificate NAME.crt (repeatable)")
    p.set_defaults(func=cmd_certs)
