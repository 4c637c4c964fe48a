"""InfluxDB with authentication on, as `guardian influx provision` leaves it (a real influxd): the gateway's
user writes and checks the admin's schema but may not make users or a schema; the reader reads and may not
write; anonymous requests are refused; provisioning again keeps the passwords."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from gateway.cli import main
from gateway.config.settings import InfluxSettings, Settings
from gateway.errors import StorageConfigError
from gateway.influx.client import InfluxV1
from gateway.influx.retention import continuous_queries, ensure_schema
from gateway.ops import services
from gateway.ops.influx_access import ADMIN, READER, WRITER, InfluxAccess
from gateway.runtime.audit import probe


def _as(port: int, user: str, password: str) -> InfluxSettings:
    return InfluxSettings.model_validate(
        {"url": f"http://127.0.0.1:{port}", "username": user, "password": SecretStr(password)}
    )


def test_provisioned_users_may_do_what_they_are_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = services.influxd(tmp_path / "influxdb", auth=True)
    with server:
        services.wait_influx_ready(server.port)
        url = f"http://127.0.0.1:{server.port}"
        monkeypatch.setenv("GUARDIAN_INFLUX__URL", url)
        folder = tmp_path / "access"
        assert main(["influx", "--dir", str(folder), "provision", "--create-admin"]) == 0
        access = InfluxAccess(folder)
        writer, reader = access.writer_password(), access.reader_password()
        assert (folder / "secrets" / "influx__username").read_text().strip() == WRITER
        assert oct((folder / "secrets" / "influx__password").stat().st_mode & 0o777) == "0o600"

        async def check() -> None:
            async with InfluxV1(_as(server.port, WRITER, writer)) as gw:
                await ensure_schema(gw)  # not an admin: checks the policies the admin made
                await gw.write(b"sensor_reading,device=s-1 co=1 1800000000000000000")
                with pytest.raises(StorageConfigError, match="admin privilege"):
                    await gw.query(
                        "CREATE USER intruder WITH PASSWORD 'x' WITH ALL PRIVILEGES", method="POST"
                    )
            async with InfluxV1(_as(server.port, ADMIN, access.admin_file.read_text().strip())) as admin:
                assert len(await continuous_queries(admin)) > 0  # the admin's provisioning made them
            async with InfluxV1(_as(server.port, READER, reader)) as grafana:
                rows = await grafana.query('SELECT count(co) FROM "raw"."sensor_reading"')
                assert rows["results"][0]["series"][0]["values"][0][1] == 1
                with pytest.raises(StorageConfigError, match="not authorized"):
                    await grafana.write(b"sensor_reading,device=s-1 co=9 1800000001000000000")

        asyncio.run(check())
        # check-config --probe: the admin as the gateway's login is weak, the provisioned writer is not
        as_admin = Settings.model_validate(
            {"influx": _as(server.port, ADMIN, access.admin_file.read_text().strip())}
        )
        as_writer = Settings.model_validate({"influx": _as(server.port, WRITER, writer)})
        assert [f for f in asyncio.run(probe(as_admin)) if f.startswith("influx")] == [
            "influx: the gateway's user 'guardian-admin' is an InfluxDB admin: give it ALL on its database "
            "only (guardian influx provision)"
        ]
        assert [f for f in asyncio.run(probe(as_writer)) if f.startswith("influx")] == []
        anonymous = httpx.get(f"{url}/query", params={"db": "guardian", "q": "SHOW MEASUREMENTS"})
        assert anonymous.status_code == 401
        # again, as an operator re-running it after an upgrade: same passwords, the admin's file is used
        again = ["influx", "--dir", str(folder), "provision", "--admin-password-file", str(access.admin_file)]
        assert main(again) == 0
        assert (access.writer_password(), access.reader_password()) == (writer, reader)
        assert main(["influx", "--dir", str(tmp_path / "other"), "provision", "--create-admin"]) == 2


def test_a_writer_without_the_schema_is_told_to_provision(tmp_path: Path) -> None:
    server = services.influxd(tmp_path / "influxdb", auth=True)
    with server:
        services.wait_influx_ready(server.port)
        access = InfluxAccess(tmp_path / "access")
        admin = access.create_admin(f"http://127.0.0.1:{server.port}")

        async def bare_writer() -> None:
            async with InfluxV1(_as(server.port, ADMIN, admin)) as influx:
                await influx.query('CREATE DATABASE "guardian"', method="POST")
                await influx.query("CREATE USER w WITH PASSWORD 'w'", method="POST")
                await influx.query('GRANT ALL ON "guardian" TO w', method="POST")
            async with InfluxV1(_as(server.port, "w", "w")) as gw:
                with pytest.raises(StorageConfigError, match="run `guardian influx provision`"):
                    await ensure_schema(gw)

        asyncio.run(bare_writer())
