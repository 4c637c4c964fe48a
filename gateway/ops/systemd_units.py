"""The systemd units a box runs the gateway with, written by `guardian install`.

Kept as Python templates so the paths (the `guardian` executable, the data folder, the configuration
folder, the user) are filled in for the host, and `systemd-analyze verify` is run on what is written, not on
a copy in the docs. Two services exist because two ways of running exist:

- `guardian-gateway.service`: one community on one box (`guardian run`), the API and the pages included;
- `guardian-instance@.service`: one instance of a district (`guardian run --cluster`), `%i` its name.

There is no API-only unit: `guardian run` has no `--role api` yet (docs/deploying.md says what it needs).

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
d {config_dir}/secrets 0750 root {user} -
d {data_dir} 0750 {user} {user} -
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
    return {
        "systemd/system/guardian-gateway.service": gateway,
        "systemd/system/guardian-instance@.service": instance,
        "sysusers.d/guardian.conf": SYSUSERS.format(user=layout.user, data_dir=layout.data_dir),
        "tmpfiles.d/guardian.conf": TMPFILES.format(
            user=layout.user, config_dir=layout.config_dir, data_dir=layout.data_dir
        ),
    }


def write_units(dest: Path, layout: Layout = Layout()) -> list[Path]:
    """The files under `dest` (e.g. /etc); existing ones are replaced."""
    written = []
    for name, text in units(layout).items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


__all__ = ["Layout", "units", "write_units"]
