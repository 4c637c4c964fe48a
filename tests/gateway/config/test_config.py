from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gateway.config.settings import load_settings
from tests.support import ROOT


def test_environment_names_from_the_issue(monkeypatch):
    monkeypatch.setenv("GUARDIAN_MQTT__HOST", "broker.local")
    monkeypatch.setenv("GUARDIAN_MQTT__PORT", "1884")
    monkeypatch.setenv("GUARDIAN_INFLUX__URL", "http://db:8086")
    monkeypatch.setenv("GUARDIAN_INFLUX__DATABASE", "estate")
    monkeypatch.setenv("GUARDIAN_REGISTRY", "/etc/guardian/sites")
    monkeypatch.setenv("GUARDIAN_DATA_DIR", "/var/lib/guardian")
    monkeypatch.setenv("GUARDIAN_HTTP__HOST", "0.0.0.0")
    monkeypatch.setenv("GUARDIAN_HTTP__PORT", "9000")
    s = load_settings()
    assert (s.mqtt.host, s.mqtt.port, s.influx.url, s.influx.database) == (
        "broker.local",
        1884,
        "http://db:8086",
        "estate",
    )
    assert (s.registry, s.data_dir, s.http.host, s.http.port) == (
        Path("/etc/guardian/sites"),
        Path("/var/lib/guardian"),
        "0.0.0.0",
        9000,
    )


def test_yaml_file_is_layered_under_the_environment(tmp_path, monkeypatch):
    conf = tmp_path / "guardian.yaml"
    conf.write_text("mqtt: {host: from-file, port: 2000}\ninflux: {database: filedb}\n")
    monkeypatch.setenv("GUARDIAN_MQTT__PORT", "3000")
    s = load_settings(conf)
    assert (s.mqtt.host, s.mqtt.port, s.influx.database) == ("from-file", 3000, "filedb")


def test_unknown_settings_are_errors(tmp_path):
    conf = tmp_path / "guardian.yaml"
    conf.write_text("mqtt: {hots: typo}\n")
    with pytest.raises(ValidationError, match="hots"):
        load_settings(conf)


def test_check_config_points_at_the_bad_line(tmp_path, registry_file):
    bad = tmp_path / "bad.yaml"
    bad.write_text(registry_file.read_text().replace("kind: co_gas", "kind: gaz", 1))
    run = lambda reg: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "gateway", "check-config", "--registry", str(reg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    )
    ok = run(registry_file)
    assert ok.returncode == 0 and "100 households" in ok.stdout
    failed = run(bad)
    assert failed.returncode == 2
    assert f"{bad}:" in failed.stderr and ".kind:" in failed.stderr


def test_check_config_refuses_a_misspelled_rule_setting_as_the_gateway_would(tmp_path):
    """`gas_stage1_lell` in the environment: the gateway refuses to start, so check-config must not say ok."""
    from simulators import scenarios

    reg = tmp_path / "registry.yaml"
    reg.write_text(yaml.safe_dump(scenarios.registry()))
    env = {"PATH": "/usr/bin:/bin", "GUARDIAN_ALERTS__RULES": '{"t1": {"gas_stage1_lell": 12}}'}
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--registry", str(reg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert run.returncode == 2, run.stdout
    assert "gas_stage1_lell" in run.stderr
