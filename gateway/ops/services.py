"""Run Mosquitto (or NATS), InfluxDB, VictoriaMetrics and PostgreSQL as child processes in a folder of
their own, on ports
of our choosing.

The demo, the tests and the benchmarks all start their servers through here, so the broker and database
settings that matter for losing nothing (inflight window, queue sizes, persistence) are written once.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import ConfigError
from gateway.ops.broker_access import BrokerAccess


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """A server's certificate and key, and the CA its clients trust (`guardian certs`)."""

    ca: Path
    cert: Path
    key: Path


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this process handed out before: servers configured
    before any of them starts (a NATS cluster and an InfluxDB in one fixture) would otherwise be given the
    same port twice, the kernel having got it back when the probe closed."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def find_binary(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        raise ConfigError(f"{name} is not installed; run `make test` or `make demo`, which install it")
    return found


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; log:\n{_tail(log)}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s; log:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(kw_only=True)
class ChildServer:
    name: str
    directory: Path
    port: int
    argv: list[str]
    log: Path
    access: BrokerAccess | None = None
    """A broker's accounts (`guardian devices provision`), when it refuses anonymous clients."""
    user: str | None = None
    """Run as this user (PostgreSQL refuses to run as root)."""
    scratch: bool = False
    """`directory` is the server's own throwaway folder: removed when it stops."""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 30.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        logf = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=self.user,
            group=pwd.getpwnam(self.user).pw_gid if self.user else None,
        )
        logf.close()
        _wait_port(self.port, self.proc, self.log, timeout)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.scratch:
            shutil.rmtree(self.directory, ignore_errors=True)

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads its password file and ACL, and drops clients no longer allowed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def login(self, account: str) -> tuple[str, str] | None:
        return None if self.access is None else self.access.login(account)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> ChildServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


MOSQUITTO_CONF = """\
# Written by gateway/ops/services.py. See docs/deploying.md for what each line protects against.
listener {port} 127.0.0.1
{tls}
# Started as root (CI), mosquitto would switch to the 'mosquitto' user and lose access to its folder.
user {user}
{access}
persistence true
persistence_location {dir}/
autosave_interval 30
# The gateway acknowledges only after its spool commit, so a deep inflight window keeps the pipe full.
max_inflight_messages 0
# A gateway outage at 30k msg/s for a minute is ~2M queued messages; never let the broker drop them.
max_queued_messages 5000000
max_queued_bytes 0
max_packet_size 1048576
log_dest stderr
log_type error
log_type warning
{extra}
"""


def mosquitto(
    directory: Path,
    port: int | None = None,
    *,
    access: BrokerAccess | None = None,
    tls: ServerTLS | None = None,
    extra: str = "",
) -> ChildServer:
    """Anonymous only without `access`: benchmarks of the bare pipeline, and tests of what it refuses."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "mosquitto.conf"
    conf.write_text(
        MOSQUITTO_CONF.format(
            port=port,
            dir=directory,
            user=pwd.getpwuid(os.geteuid()).pw_name,
            access="allow_anonymous true" if access is None else access.mosquitto_conf(),
            tls=""
            if tls is None
            else f"cafile {tls.ca}\ncertfile {tls.cert}\nkeyfile {tls.key}\ntls_version tlsv1.2",
            extra=extra,
        )
    )
    return ChildServer(
        name="mosquitto",
        directory=directory,
        port=port,
        argv=[find_binary("mosquitto"), "-c", str(conf)],
        log=directory / "mosquitto.log",
        access=access,
    )


NATS_CONF = """\
# Written by gateway/ops/services.py. NATS speaks MQTT 3.1.1 only (the client's protocol level 4), and
# keeps MQTT sessions and QoS 1 messages in JetStream, which needs a server name and a store.
server_name: {name}
listen: 127.0.0.1:{client_port}
jetstream {{
  store_dir: "{dir}/jetstream"
}}
mqtt {{
  listen: 127.0.0.1:{port}
}}
{authorization}
"""


def nats_mqtt(
    directory: Path,
    port: int | None = None,
    *,
    client_port: int | None = None,
    users: dict[str, str] | None = None,
    name: str = "guardian",
) -> ChildServer:
    """nats-server with its MQTT listener on `port` and its NATS clients' on `client_port` (a free one unless
    given), for the district deployments that run a NATS cluster as their broker. An MQTT user name and
    password are a NATS user's: with `users` (name -> password) only they may connect; without, anyone may."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    authorization = ""
    if users:
        entries = ", ".join(
            f"{{user: {json.dumps(user)}, password: {json.dumps(password)}}}"
            for user, password in users.items()
        )
        authorization = f"authorization {{\n  users = [{entries}]\n}}"
    conf = directory / "nats.conf"
    conf.write_text(
        NATS_CONF.format(
            name=name,
            client_port=client_port or free_port(),
            dir=directory,
            port=port,
            authorization=authorization,
        )
    )
    return ChildServer(
        name="nats-server",
        directory=directory,
        port=port,
        argv=[find_binary("nats-server"), "-c", str(conf)],
        log=directory / "nats.log",
    )


INFLUXD_CONF = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[retention]
  check-interval = "30m"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {auth}
  log-enabled = false
  write-tracing = false
  max-body-size = 50000000
{https}
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = true
  log-enabled = false
"""


HTTPS_CONF = """\
  https-enabled = true
  https-certificate = "{cert}"
  https-private-key = "{key}"
"""


def influxd(
    directory: Path, port: int | None = None, *, auth: bool = False, tls: ServerTLS | None = None
) -> ChildServer:
    port = port or free_port()
    rpc_port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "influxdb.conf"
    conf.write_text(
        INFLUXD_CONF.format(
            port=port,
            rpc_port=rpc_port,
            dir=directory,
            auth="true" if auth else "false",
            https="" if tls is None else HTTPS_CONF.format(cert=tls.cert, key=tls.key),
        )
    )
    server = ChildServer(
        name="influxd",
        directory=directory,
        port=port,
        argv=[find_binary("influxd"), "-config", str(conf)],
        log=directory / "influxd.log",
    )
    return server


def wait_influx_ready(port: int, timeout: float = 30.0, tls: ServerTLS | None = None) -> None:
    """influxd opens its port before it answers; wait for /ping."""
    deadline = time.monotonic() + timeout
    scheme = "http" if tls is None else "https"
    context = None if tls is None else ssl.create_default_context(cafile=str(tls.ca))
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(
                f"{scheme}://127.0.0.1:{port}/ping", timeout=1, context=context
            ) as response,
        ):
            if response.status == 204:
                return
        time.sleep(0.1)
    raise TimeoutError(f"InfluxDB on port {port} did not answer /ping")


def victoria_metrics(
    directory: Path, port: int | None = None, *, retention: str = "1y", dedup: bool = True
) -> ChildServer:
    """VictoriaMetrics single node (docs/victoriametrics.md), its data in `directory`.

    `dedup`: -dedup.minScrapeInterval=1ms keeps one sample per series and millisecond, so a point written
    twice (a retry, a replay after a crash) is stored once, as InfluxDB does; without it both are kept.
    -search.latencyOffset=0s makes a point readable as soon as it is written (default: 30 s later)."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={directory / 'data'}",
        f"-retentionPeriod={retention}",
        "-search.latencyOffset=0s",
        "-loggerLevel=WARN",
    ]
    if dedup:
        argv.append("-dedup.minScrapeInterval=1ms")
    return ChildServer(
        name="victoria-metrics",
        directory=directory,
        port=port,
        argv=argv,
        log=directory / "victoria-metrics.log",
    )


def wait_victoria_ready(port: int, timeout: float = 30.0) -> None:
    """VictoriaMetrics answers /health with 200 "OK" once its storage is open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response,
        ):
            if response.status == 200 and response.read().strip() == b"OK":
                return
        time.sleep(0.1)
    raise TimeoutError(f"VictoriaMetrics on port {port} did not answer /health")


def _postgres_bin() -> Path:
    """The newest server the Debian `postgresql` package installed (/usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise ConfigError("PostgreSQL is not installed; run `make test`, which installs it")
    return found[-1].parent


def postgres(directory: Path | None = None, port: int | None = None) -> ChildServer:
    """A throwaway PostgreSQL cluster (tests): user `guardian`, trust auth on 127.0.0.1 only, no fsync.

    As root (CI containers) it runs as the `postgres` user the Debian package creates, in a folder of its own
    under /tmp (a root-owned 0700 test folder would keep that user out), removed when it stops."""
    bindir = _postgres_bin()
    port = port or free_port()
    user = "postgres" if os.geteuid() == 0 else None
    scratch = directory is None or user is not None
    if scratch:
        directory = Path(tempfile.mkdtemp(prefix="guardian-pg-"))
    assert directory is not None
    data = directory / "data"
    directory.mkdir(parents=True, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    if not data.exists():
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "guardian",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            cwd=directory,
        )
    argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"]
    return ChildServer(
        name="postgres",
        directory=directory,
        port=port,
        argv=argv,
        log=directory / "postgres.log",
        user=user,
        scratch=scratch,
    )


def postgres_url(server: ChildServer, database: str = "postgres") -> str:
    return f"postgresql+asyncpg://guardian@127.0.0.1:{server.port}/{database}"
