"""Secrets come from files, placeholders refuse a start, and check-config names what leaves a site open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config.settings import SECRETS_DIR_ENV, load_settings
from gateway.errors import ConfigError
from gateway.ops import services
from gateway.runtime.audit import placeholder_secrets, probe_now, weak_settings
from tests.support import ROOT, secured_broker

STRONG = "k3Q9-vT2x-8LmZ-pR4w"


def secrets_dir(tmp_path: Path, **values: str) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700)
    for name, value in values.items():
        path = folder / name
        path.write_text(value + "\n")
        path.chmod(0o600)
    return folder


def test_secrets_directory_fills_nested_settings(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = secrets_dir(
        tmp_path, mqtt__username="guardian-gateway", mqtt__password=STRONG, influx__token=STRONG
    )
    (folder / "..data").mkdir()  # how Kubernetes mounts secrets: skipped
    monkeypatch.setenv(SECRETS_DIR_ENV, str(folder))
    s = load_settings()
    assert s.mqtt.username == "guardian-gateway"
    assert s.mqtt.password is not None and s.mqtt.password.get_secret_value() == STRONG
    assert s.influx.token is not None and s.influx.token.get_secret_value() == STRONG
    assert STRONG not in repr(s) and STRONG not in str(s.model_dump())
    monkeypatch.setenv("GUARDIAN_MQTT__PASSWORD", "from-the-environment-wins")
    assert load_settings().mqtt.password.get_secret_value() == "from-the-environment-wins"  # type: ignore[union-attr]
    (folder / "mqtt__pasword").write_text("typo")
    with pytest.raises(ValidationError, match="pasword"):
        load_settings()
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not a folder"):
        load_settings()


@pytest.mark.parametrize(
    "value",
    ["changeme", "CHANGE_ME_PLEASE", "<influx password>", "${TOKEN}", "aaaaaaaaaaaaaaaa", "short-pw1"],
)
def test_placeholders_and_short_secrets_are_found(value: str) -> None:
    found = placeholder_secrets(load_settings(influx={"password": value, "username": "u"}))
    assert len(found) == 1 and found[0].startswith("influx.password") and value not in found[0]
    assert placeholder_secrets(load_settings(influx={"password": STRONG, "username": "u"})) == []


def test_the_gateway_refuses_to_start_with_a_placeholder_and_does_not_print_it(
    tmp_path, registry_file
) -> None:  # type: ignore[no-untyped-def]
    env = {
        "PATH": "/usr/bin:/bin",
        "GUARDIAN_REGISTRY": str(registry_file),
        "GUARDIAN_DATA_DIR": str(tmp_path / "gw"),
        SECRETS_DIR_ENV: str(secrets_dir(tmp_path, notify__webhook_secret="changeme-webhook-key")),
    }
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "run"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "notify.webhook_secret: a placeholder" in run.stderr
    assert "changeme-webhook-key" not in run.stderr + run.stdout


def test_weak_settings_are_named() -> None:
    open_site = weak_settings(
        load_settings(
            mqtt={"host": "10.0.0.5"},
            influx={"url": "http://10.0.0.6:8086"},
            http={"host": "0.0.0.0"},
            notify={"public_url": "http://guardian.example.org", "webhooks": ["http://hooks.example.org/x"]},
        )
    )
    for expected in ("anonymous clients", "mqtt.tls is off", "InfluxDB must accept anyone", "not https",
                     "without TLS", "notify.public_url", "notify.webhooks"):  # fmt: skip
        assert any(expected in w for w in open_site), (expected, open_site)
    closed = load_settings(
        mqtt={"host": "10.0.0.5", "tls": True, "username": "guardian-gateway", "password": STRONG},
        influx={"url": "https://10.0.0.6:8086", "token": STRONG},
        notify={"public_url": "https://guardian.example.org"},
    )
    assert weak_settings(closed) == []


def test_readable_secret_files_are_weak(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = secrets_dir(tmp_path, mqtt__password=STRONG)
    settings = load_settings(mqtt={"username": "u", "password": STRONG}, influx={"token": STRONG})
    assert weak_settings(settings, folder) == []
    os.chmod(folder / "mqtt__password", 0o644)
    assert [w for w in weak_settings(settings, folder) if "readable by other users" in w]


def test_probe_asks_the_servers(tmp_path, registry_dict) -> None:  # type: ignore[no-untyped-def]
    with (
        services.mosquitto(tmp_path / "open") as open_broker,
        secured_broker(tmp_path, registry_dict) as closed_broker,
        services.influxd(tmp_path / "influx") as influx,
    ):
        services.wait_influx_ready(influx.port)
        url = f"http://127.0.0.1:{influx.port}"
        found = probe_now(load_settings(mqtt={"port": open_broker.port}, influx={"url": url}))
        assert any("accepts anonymous clients" in f for f in found), found
        assert any("answers queries without credentials" in f for f in found), found
        found = probe_now(load_settings(mqtt={"port": closed_broker.port}, influx={"url": url}))
        assert not any("anonymous" in f for f in found), found


def test_check_config_strict_fails_on_weak_settings(tmp_path, registry_file) -> None:  # type: ignore[no-untyped-def]
    def run(*extra: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", "check-config", "--registry", str(registry_file), *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **env},
        )

    loose = run("--strict")
    assert loose.returncode == 1 and "weak: mqtt: the gateway connects without a username" in loose.stdout
    assert run().returncode == 0  # warnings only
    folder = secrets_dir(
        tmp_path, mqtt__username="guardian-gateway", mqtt__password=STRONG, influx__token=STRONG
    )
    tight = run("--strict", **{SECRETS_DIR_ENV: str(folder)})
    assert tight.returncode == 0 and "0 weak settings" in tight.stdout, tight.stdout + tight.stderr
    assert STRONG not in tight.stdout + tight.stderr
