"""TLS with a site's own local CA (`guardian certs`): the broker and InfluxDB on TLS, the gateway verifying
both; a client that does not trust the CA is refused."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time

import httpx
import msgspec
import pytest

from gateway.mqtt.client import probe_connect
from gateway.ops import services
from simulators.fleet import connected
from tests.support import ROOT, GatewayProcess, provisioned, simulator_login, wait_for


def test_readings_cross_tls_to_broker_and_database(tmp_path, registry_file, registry_dict) -> None:  # type: ignore[no-untyped-def]
    ca_dir = tmp_path / "ca"
    made = subprocess.run(
        [sys.executable, "-m", "gateway", "certs", "--dir", str(ca_dir), "--site", "t1",
         "--server", "broker", "--server", "influx", "--host", "127.0.0.1", "--host", "localhost"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    assert "created CA" in made.stdout
    assert oct((ca_dir / "ca.key").stat().st_mode & 0o777) == "0o600"
    ca = ca_dir / "ca.crt"
    broker_tls = services.ServerTLS(ca=ca, cert=ca_dir / "broker.crt", key=ca_dir / "broker.key")
    influx_tls = services.ServerTLS(ca=ca, cert=ca_dir / "influx.crt", key=ca_dir / "influx.key")
    access = provisioned(tmp_path / "access", registry_dict)
    with (
        services.mosquitto(tmp_path / "mq", access=access, tls=broker_tls) as broker,
        services.influxd(tmp_path / "ix", tls=influx_tls) as influx,
    ):
        services.wait_influx_ready(influx.port, tls=influx_tls)
        # not trusting the site's CA (the system store only): the handshake fails, nothing is sent
        with pytest.raises(ssl.SSLCertVerificationError):
            asyncio.run(
                probe_connect("127.0.0.1", broker.port, client_id="x", tls=ssl.create_default_context())
            )
        gw = GatewayProcess.against(
            broker,
            influx,
            registry=registry_file,
            data_dir=tmp_path / "gw",
            extra_env={
                "GUARDIAN_MQTT__TLS": "true",
                "GUARDIAN_MQTT__CA_FILE": str(ca),
                "GUARDIAN_INFLUX__URL": f"https://127.0.0.1:{influx.port}",
                "GUARDIAN_INFLUX__CA_FILE": str(ca),
            },
        )
        gw.start()
        try:
            now = time.time()
            messages = [
                (
                    f"guardian/t1/sensor/{d}/telemetry",
                    msgspec.json.encode({"seq": 1, "ts": now, "co_ppm": 1.0}),
                )
                for d in ("s-00001", "s-00002", "s-00003")
            ]
            context = ssl.create_default_context(cafile=str(ca))
            asyncio.run(publish_tls(broker.port, messages, simulator_login(broker), context))

            def stored() -> int:
                answer = httpx.get(
                    f"https://127.0.0.1:{influx.port}/query",
                    params={"db": "guardian", "q": 'SELECT count("seq") FROM "raw"."sensor_reading"'},
                    verify=context,
                )
                series = answer.json()["results"][0].get("series", [])
                return int(series[0]["values"][0][1]) if series else 0

            wait_for(lambda: stored() == 3, 30, message="readings stored over TLS", diagnose=gw.log_tail)
            assert gw.health()[0] == 200
        finally:
            gw.stop()


async def publish_tls(port, messages, login, context) -> None:  # type: ignore[no-untyped-def]
    async with connected("127.0.0.1", port, login[0], login, tls=context) as session:
        for topic, payload in messages:
            await session.publish(topic, payload)
