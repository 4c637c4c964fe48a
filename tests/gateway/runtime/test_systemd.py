"""The units `guardian install` writes pass `systemd-analyze verify`, and the watchdog pings stop when the
gateway is not live, against a real datagram socket standing for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli import build_parser, main
from gateway.observe.health import Health
from gateway.observe.systemd import SystemdNotifier, keep_alive

SERVICES = ("guardian-gateway.service", "guardian-instance@.service", "guardian-api.service")
UNITS = (*SERVICES, "guardian-backup.service", "guardian-backup.timer")


def test_the_installed_units_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool is not None, (
        "systemd-analyze is missing: scripts/bootstrap.sh installs the Debian package systemd"
    )
    executable = Path(sys.executable).parent / "guardian"
    assert main(["install", "--dest", str(tmp_path), "--executable", str(executable)]) == 0
    folder = tmp_path / "systemd" / "system"
    for name in SERVICES:
        text = (folder / name).read_text()
        for line in (
            "Type=notify",
            "Restart=always",
            "WatchdogSec=30",
            "User=guardian",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/guardian",
            "StateDirectory=guardian",
            "CapabilityBoundingSet=",
            "StandardOutput=journal",
        ):
            assert line in text.splitlines(), (name, line)
        assert f"ExecStart={executable} run" in text, name
    assert "--instance %i" in (folder / "guardian-instance@.service").read_text()
    assert f"ExecStart={executable} run --role api" in (folder / "guardian-api.service").read_text()
    for name in (*SERVICES, "guardian-backup.service"):  # the command lines are ones `guardian` takes
        (exec_start,) = [x for x in (folder / name).read_text().splitlines() if x.startswith("ExecStart=")]
        build_parser().parse_args(exec_start.split()[1:])
    # offline: no systemd running is needed; any warning (an unknown key, a bad value) counts as a failure
    done = subprocess.run(
        [tool, "verify", *(str(folder / n) for n in UNITS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    for name in (*SERVICES, "guardian-backup.service"):  # systemd's own score of the sandbox: "OK" band
        scored = subprocess.run(
            [tool, "security", "--offline=true", "--threshold=20", str(folder / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert scored.returncode == 0, scored.stdout[-1500:]
    assert (tmp_path / "sysusers.d" / "guardian.conf").read_text().splitlines()[-1].startswith("u guardian ")
    backup = (folder / "guardian-backup.service").read_text()
    assert f"ExecStart={executable} backup /var/backups/guardian --keep 14" in backup
    assert "ReadWritePaths=/var/backups/guardian" in backup.splitlines()
    # the operator's settings are never overwritten by a second install
    env = tmp_path / "guardian" / "guardian.env"
    assert "GUARDIAN_REGISTRY=/etc/guardian/sites" in env.read_text()
    env.write_text("GUARDIAN_HTTP__PORT=9090\n")
    assert main(["install", "--dest", str(tmp_path), "--executable", str(executable)]) == 0
    assert env.read_text() == "GUARDIAN_HTTP__PORT=9090\n"


def test_an_instance_name_without_district_servers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--instance", "gw-1"]) == 2
    assert "--instance is a district's" in capsys.readouterr().err


def test_an_api_replica_without_the_district_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--role api` serves a district: without NATS servers or with a SQLite store it says what is missing
    and starts nothing."""
    for name in [k for k in os.environ if k.startswith("GUARDIAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GUARDIAN_DATA_DIR", str(tmp_path))
    assert main(["run", "--role", "api"]) == 2
    err = capsys.readouterr().err
    assert "--role api serves a district's API" in err
    assert "--cluster URLS" in err and "PostgreSQL store" in err and "none is set" in err
    monkeypatch.setenv("GUARDIAN_STORE__URL", f"sqlite+aiosqlite:///{tmp_path}/g.sqlite3")
    assert main(["run", "--role", "api", "--cluster", "nats://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "NATS servers" not in err and "not sqlite+aiosqlite" in err
    assert not list(tmp_path.iterdir())  # nothing made


def test_the_user_and_folders_are_made_in_a_fresh_root(tmp_path: Path) -> None:
    """systemd-sysusers and systemd-tmpfiles on the files install wrote, into an empty root (offline)."""
    root = tmp_path / "root"
    assert main(["install", "--dest", str(root / "etc")]) == 0
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        assert shutil.which(tool) is not None, f"{tool} is missing: the Debian package systemd provides it"
    subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True, timeout=60)
    (entry,) = [
        line for line in (root / "etc" / "passwd").read_text().splitlines() if line.startswith("guardian:")
    ]
    uid = int(entry.split(":")[2])
    assert entry.endswith(":/var/lib/guardian:/usr/sbin/nologin")
    subprocess.run(
        ["systemd-tmpfiles", f"--root={root}", "--create"], check=True, capture_output=True, timeout=60
    )
    for folder, owner, mode in (
        ("etc/guardian", 0, "0o750"),
        ("etc/guardian/secrets", uid, "0o700"),  # as check-config wants it: nobody else reads a secret
        ("var/lib/guardian", uid, "0o750"),
        ("var/backups/guardian", uid, "0o750"),
    ):
        stat = (root / folder).stat()
        assert (stat.st_uid, oct(stat.st_mode & 0o777)) == (owner, mode), folder


def test_print_shows_every_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install", "--print", "--data-dir", "/srv/guardian", "--user", "gg"]) == 0  # cwd is not used
    out = capsys.readouterr().out
    others = ("sysusers.d/guardian.conf", "tmpfiles.d/guardian.conf", "guardian/guardian.env")
    for name in (*(f"systemd/system/{u}" for u in UNITS), *others):
        assert f"### {name}\n" in out, name
    assert list(tmp_path.iterdir()) == []
    assert "ReadWritePaths=/srv/guardian" in out and "User=gg" in out
    assert "StateDirectory=" not in out  # not under /var/lib: no StateDirectory, the tmpfiles line makes it


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose command does not exist is refused."""
    tool = shutil.which("systemd-analyze")
    assert tool is not None
    assert main(["install", "--dest", str(tmp_path), "--executable", str(tmp_path / "no-such-guardian")]) == 0
    unit = tmp_path / "systemd" / "system" / "guardian-gateway.service"
    done = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no-such-guardian" in done.stderr


def _listener(tmp_path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "notify"))
    s.setblocking(False)
    return s


def _received(s: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(s.recv(4096).decode())
        except BlockingIOError:
            return out


def test_pings_stop_when_the_gateway_is_not_live(tmp_path: Path) -> None:
    listener = _listener(tmp_path)
    env = {
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "300000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    notifier = SystemdNotifier(env)
    assert notifier.watchdog == 0.3
    health = Health(clock=time.time, stale_after=0.25)
    started = False

    async def scenario() -> tuple[list[str], list[str], list[str], list[str]]:
        nonlocal started
        task = asyncio.create_task(keep_alive(notifier, health.live, lambda: started), name="watchdog")
        await asyncio.sleep(0.3)
        before_start = _received(listener)  # nothing until the server listens
        started = True
        for _ in range(6):  # live: the maintenance child beats
            health.beat()
            await asyncio.sleep(0.1)
        live = _received(listener)
        await asyncio.sleep(0.6)  # no beats: stale after 0.25 s, then silence
        _received(listener)
        await asyncio.sleep(0.5)
        stale = _received(listener)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return before_start, live, stale, _received(listener)

    before_start, live, stale, stopping = asyncio.run(scenario())
    listener.close()
    assert before_start == []
    assert live[0].startswith("READY=1\n")
    assert sum("WATCHDOG=1" in m for m in live) >= 4  # every 0.1 s (a third of 0.3 s)
    assert stale == []
    assert stopping == ["STOPPING=1"]


def test_a_reader_that_stops_reading_never_blocks_the_sender(tmp_path: Path) -> None:
    listener = _listener(tmp_path)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    started = time.monotonic()
    sent = [notifier.send(WATCHDOG="1") for _ in range(2000)]  # far past the socket's queue
    assert time.monotonic() - started < 2
    assert sent[0] and not sent[-1] and notifier.failing
    _received(listener)
    assert notifier.send(WATCHDOG="1") and not notifier.failing  # room again: it works again
    listener.close()


def test_a_pid_not_ours_or_no_socket_sends_nothing(tmp_path: Path) -> None:
    assert not SystemdNotifier({}).enabled
    assert SystemdNotifier({}).send(READY="1") is False
    other = SystemdNotifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert other.watchdog is None
    abstract = SystemdNotifier({"NOTIFY_SOCKET": "@guardian-test"})
    assert abstract.address == "\0guardian-test"
