"""The systemd units a box runs the gateway with, written by `guardian install`.

Kept as Python templates so the paths (the `guardian` executable, the data folder, the configuration
folder, the user) are filled in for the host, and `systemd-analyze verify` is run on what is written, not on
a copy in the docs. Two services exist because two ways of running exist:

- `guardian-gateway.service`: one community on one box (`guardian run`), the API and the pages included;
- `guardian-instance@.service`: one instance of a district (`guardian run --cluster`), `%i` its name;
- `guardian-api.service`: one API replica of a district (`guardian run --role api`), the API and the pages
  from the district's PostgreSQL store, as many boxes behind a load balancer as the load asks;
- `guardian-backup.service` and `.timer`: `guardian backup` every night into the backup folder, keeping
  the last two weeks (a box whose store is PostgreSQL also needs pg_dump, from `postgresql-client`).

And `guardian/guardian.env`, the settings the services read, written only where none exists yet.

Every unit runs as the unprivileged user `guardian` (made by the sysusers.d file, so the data survive
reinstalls, which DynamicUser would not promise), sees the file system read-only except its data folder
(`ProtectSystem=strict`, `ReadWritePaths`), has no capabilities, only the system calls of an ordinary
service, and logs to the journal. `Type=notify` with `WatchdogSec`: the gateway says READY=1 once it
serves and pings while it is live (gateway/observe/systemd.py); `Restart=always` brings it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are on the host."""

    executable: Path = Path("/opt/guardian/venv/bin/guardian")
    config_dir: Path = Path("/etc/guardian")
    data_dir: Path = Path("/var/lib/guardian")
    backup_dir: Path = Path("/var/backups/guardian")
    user: str = "guardian"
    watchdog_seconds: int = 30

    @property
    def state_name(self) -> str:
        """StateDirectory= takes a name under /var/lib."""
        return str(self.data_dir.relative_to("/var/lib")) if self.data_dir.is_relative_to("/var/lib") else ""


HARDENING = """\
User={user}
Group={user}
UMask=0027
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
{state}ReadWritePaths={data_dir}
StandardOutput=journal
StandardError=journal
LimitNOFILE=65536
"""

SERVICE = """\
# Written by `guardian install` (docs/deploying.md). Settings: {config_dir}/guardian.env and secrets/
[Unit]
Description={description}
After=network-online.target {after}
Wants=network-online.target
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=notify
NotifyAccess=main
ExecStart={executable} run{args}
EnvironmentFile={config_dir}/guardian.env
Environment=GUARDIAN_DATA_DIR={data_dir} GUARDIAN_SECRETS_DIR={config_dir}/secrets
WorkingDirectory={data_dir}
Restart=always
RestartSec=5
WatchdogSec={watchdog}
TimeoutStartSec=300
TimeoutStopSec=60
SyslogIdentifier={identifier}
{hardening}
[Install]
WantedBy=multi-user.target
"""

SYSUSERS = """\
# Written by `guardian install`: the user the gateway runs as (systemd-sysusers, sysusers.d(5))
u {user} - "Gas Guardian gateway" {data_dir}
"""

TMPFILES = """\
# Written by `guardian install`: the configuration folder, readable by the gateway only (tmpfiles.d(5))
d {config_dir} 0750 root {user} -
d {config_dir}/secrets 0700 {user} {user} -
d {data_dir} 0750 {user} {user} -
d {backup_dir} 0750 {user} {user} -
"""

BACKUP = """\
# Written by `guardian install` (docs/deploying.md): a nightly backup while the gateway runs
[Unit]
Description=Gas Guardian backup of the store, spool, outbox and rule state
After=guardian-gateway.service

[Service]
Type=oneshot
ExecStart={executable} backup {backup_dir} --keep 14
EnvironmentFile={config_dir}/guardian.env
Environment=GUARDIAN_DATA_DIR={data_dir} GUARDIAN_SECRETS_DIR={config_dir}/secrets
WorkingDirectory={data_dir}
SyslogIdentifier=guardian-backup
Nice=10
IOSchedulingClass=idle
{hardening}ReadWritePaths={backup_dir}
"""

TIMER = """\
# Written by `guardian install`: when guardian-backup.service runs
[Unit]
Description=Nightly Gas Guardian backup

[Timer]
OnCalendar=*-*-* 03:15:00
RandomizedDelaySec=15min
Persistent=true

[Install]
WantedBy=timers.target
"""

ENV = """\
# Gas Guardian settings for the services (docs/deploying.md lists them all); secrets go in files in
# {config_dir}/secrets/ (mqtt__password, influx__password, ...), never here.
GUARDIAN_REGISTRY={config_dir}/sites
GUARDIAN_MQTT__HOST=127.0.0.1
GUARDIAN_MQTT__PORT=1883
GUARDIAN_INFLUX__URL=http://127.0.0.1:8086
GUARDIAN_HTTP__HOST=127.0.0.1
GUARDIAN_HTTP__PORT=8080
# GUARDIAN_NOTIFY__PUBLIC_URL=https://guardian.example.org
# GUARDIAN_STORE__URL=postgresql+asyncpg://guardian@db.example.org/guardian
# a district instance (guardian-instance@NAME.service) and an API replica (guardian-api.service) also need:
# GUARDIAN_CLUSTER__SERVERS=["nats://n1:4222","nats://n2:4222","nats://n3:4222"]
# and the district's PostgreSQL store (GUARDIAN_STORE__URL above)
"""


def units(layout: Layout = Layout()) -> dict[str, str]:
    """File name (relative to /etc, as `guardian install --dest` lays them out) -> text."""
    state = f"StateDirectory={layout.state_name}\nStateDirectoryMode=0750\n" if layout.state_name else ""
    hardening = HARDENING.format(user=layout.user, data_dir=layout.data_dir, state=state)
    common = {
        "executable": layout.executable,
        "config_dir": layout.config_dir,
        "data_dir": layout.data_dir,
        "watchdog": layout.watchdog_seconds,
        "hardening": hardening,
    }
    gateway = SERVICE.format(
        description="Gas Guardian gateway (one community)",
        after="mosquitto.service influxdb.service postgresql.service",
        args="",
        identifier="guardian-gateway",
        **common,
    )
    instance = SERVICE.format(
        description="Gas Guardian district instance %i",
        after="nats-server.service",
        # the NATS servers come from GUARDIAN_CLUSTER__SERVERS in the environment file
        args=" --instance %i",
        identifier="guardian-instance-%i",
        **common,
    )
    api = SERVICE.format(
        description="Gas Guardian district API replica",
        after="nats-server.service postgresql.service",
        # the NATS servers and the PostgreSQL store come from the environment file
        args=" --role api",
        identifier="guardian-api",
        **common,
    )
    return {
        "systemd/system/guardian-gateway.service": gateway,
        "systemd/system/guardian-instance@.service": instance,
        "systemd/system/guardian-api.service": api,
        "systemd/system/guardian-backup.service": BACKUP.format(
            executable=layout.executable,
            backup_dir=layout.backup_dir,
            config_dir=layout.config_dir,
            data_dir=layout.data_dir,
            hardening=HARDENING.format(user=layout.user, data_dir=layout.data_dir, state=""),
        ),
        "systemd/system/guardian-backup.timer": TIMER,
        "sysusers.d/guardian.conf": SYSUSERS.format(user=layout.user, data_dir=layout.data_dir),
        "tmpfiles.d/guardian.conf": TMPFILES.format(
            user=layout.user,
            config_dir=layout.config_dir,
            data_dir=layout.data_dir,
            backup_dir=layout.backup_dir,
        ),
        ENV_FILE: ENV.format(config_dir=layout.config_dir),
    }


ENV_FILE = "guardian/guardian.env"
"""Written only where none exists: it holds the operator's settings."""


def write_units(dest: Path, layout: Layout = Layout()) -> list[Path]:
    """The files under `dest` (e.g. /etc); existing ones are replaced."""
    written = []
    for name, text in units(layout).items():
        path = dest / name
        if name == ENV_FILE and path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


__all__ = ["ENV_FILE", "Layout", "units", "write_units"]
