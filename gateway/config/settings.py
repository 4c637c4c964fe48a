"""Gateway settings: environment `GUARDIAN_…` (`__` nests), an optional YAML file, defaults last.

Precedence, highest first: keyword arguments, environment, the YAML file, the secrets directory, defaults.
Unknown keys are errors (`extra="forbid"`): a misspelt setting must not silently fall back to a default.

Secrets belong in files, not in the YAML or the environment of a process listing: `GUARDIAN_SECRETS_DIR`
names a folder (systemd's `$CREDENTIALS_DIRECTORY`, Docker's `/run/secrets`) in which a file `mqtt__password`
holds `mqtt.password`. pydantic-settings' own secrets source cannot fill nested sections, hence ours.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from gateway.config.providers import AliyunSettings, JPushSettings, WeChatSettings, WeComSettings
from gateway.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttSettings(_Section):
    host: str = Field("127.0.0.1", description="broker host")
    port: int = Field(1883, ge=1, le=65535)
    client_id: str = Field("guardian-gateway", description="fixed, so the broker keeps our session")
    username: str | None = None
    password: SecretStr | None = None
    keepalive: int = Field(30, ge=5, le=600)
    session_expiry: int = Field(7 * 86400, ge=86400, description="seconds the broker keeps our session")
    receive_maximum: int = Field(
        4096, ge=16, le=65535, description="unacknowledged messages the broker may have in flight to us"
    )
    protocol: int = Field(
        5,
        ge=4,
        le=5,
        description="MQTT protocol level: 5, or 4 (3.1.1) for a broker without MQTT 5, such as NATS; "
        "at 4 the broker's own setting bounds what it has in flight to us, and our session lasts until "
        "a clean connect ends it",
    )
    tls: bool = Field(
        False, description="TLS to the broker (on by necessity off the loopback: docs/security.md)"
    )
    ca_file: Path | None = Field(
        None, description="CA that signed the broker's certificate (default: system)"
    )
    cert_file: Path | None = Field(None, description="client certificate, for brokers that require one")
    key_file: Path | None = None


_DURATION = r"^[0-9]+[hdw]$|^INF$"


_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def duration_seconds(duration: str) -> float:
    """A retention duration (`30d`, `12h`, `2w`, `INF`) in seconds; INF is infinite."""
    if duration == "INF":
        return float("inf")
    return float(int(duration[:-1]) * _UNIT_SECONDS[duration[-1]])


StoreKind = Literal["influxdb", "victoriametrics"]


class InfluxSettings(_Section):
    kind: StoreKind = Field(
        "influxdb",
        description="what `url` serves: InfluxDB (v1 HTTP API), or VictoriaMetrics, which takes the same "
        "line protocol on /write and is queried with MetricsQL (docs/victoriametrics.md)",
    )
    url: str = Field(
        "http://127.0.0.1:8086",
        description="time-series store base URL: InfluxDB's (v1 HTTP API) or VictoriaMetrics' "
        "(single node :8428, or a cluster's vminsert …/insert/0/influx)",
    )
    vm_retention: str = Field(
        "365d",
        pattern=_DURATION,
        description="victoriametrics: its -retentionPeriod (one for every series); older points are "
        "quarantined before writing (VictoriaMetrics would drop them with only a log line of its own)",
    )
    database: str = Field("guardian", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    retention_policy: str = Field("raw", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    raw_retention: str = Field("30d", pattern=_DURATION, description="raw readings, device events, states")
    door_retention: str = Field(
        "30d", pattern=_DURATION, description="door events: personal data (who passed when), kept short"
    )
    events_retention: str = Field("1095d", pattern=_DURATION, description="alarm and notification history")
    minute_retention: str = Field("365d", pattern=_DURATION, description="1-minute downsampled series")
    hour_retention: str = Field("1825d", pattern=_DURATION, description="1-hour downsampled series")
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = Field(None, description="sent as 'Authorization: Token …' (InfluxDB 2.x/3.x)")
    ca_file: Path | None = Field(None, description="CA for an https:// url (default: system trust store)")
    batch_lines: int = Field(5000, ge=100, le=50000)
    concurrency: int = Field(3, ge=1, le=16)
    timeout: float = Field(10.0, gt=0)
    gzip: bool = True
    backoff_max: float = Field(30.0, gt=0)
    backfill_seconds: float = Field(
        30.0, gt=0, description="how often late-written data is downsampled again (docs/storage.md)"
    )


class SpoolSettings(_Section):
    synchronous: Literal["NORMAL", "FULL"] = Field(
        "FULL", description="FULL: a commit survives power loss; NORMAL: survives a process crash"
    )
    keep_hours: float = Field(2.0, ge=0, description="rows kept after export, to rebuild rule state")
    read_chunk: int = Field(5000, ge=100, le=50000)
    quarantine_days: float = Field(
        30.0, gt=0, description="rejected messages kept for inspection (may hold door pseudonyms)"
    )


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    cert_file: Path | None = Field(None, description="serve https with this certificate (or use a TLS proxy)")
    key_file: Path | None = None
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="proxies whose X-Forwarded-For is believed (addresses or networks); none by default",
    )


class IngestSettings(_Section):
    max_payload: int = Field(4096, ge=256, description="bytes; larger device payloads are rejected")
    max_batch_payload: int = Field(65536, ge=1024, description="bytes, for concentrator _batch topics")
    max_skew: float = Field(300.0, gt=0, description="seconds device time may differ from receive time")
    backfill: float = Field(
        86400.0,
        gt=0,
        description="seconds a device's buffered reading may be late and still be stored at its own time",
    )
    flood_rate: float = Field(
        2.0, gt=0, description="messages a second one device may send, sustained (a detector sends ~1/min)"
    )
    flood_burst: float = Field(
        1000.0, ge=1, description="messages one device may send at once: a backlog held through an outage"
    )


class AlertsSettings(_Section):
    snapshot_seconds: float = Field(30.0, gt=0, description="how often rule state is saved for a restart")
    status_seconds: float = Field(
        60.0, gt=0, description="how often the estate's state (protected households, device health) is stored"
    )
    stats_seconds: float = Field(10.0, gt=0, description="how often the gateway's own metrics are stored")
    rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per-site rule settings over the registry's: site -> setting -> value",
    )


Severity = Literal["P1", "P2", "P3", "P4"]


class NotifySettings(_Section):
    roster_refresh: float = Field(
        60.0,
        ge=5,
        le=3600,
        description="seconds between rereads of the duty roster from the store (another gateway of the "
        "district may edit it; edits through this gateway's API apply at once)",
    )
    push_hosts: list[str] = Field(
        default_factory=list,
        description="push services besides the browsers' own (host or host:port): a phone's push endpoint "
        "must be on one of them (docs/security.md)",
    )
    public_url: str = Field(
        "http://127.0.0.1:8080", description="how phones reach the gateway: acknowledgement links and the app"
    )
    link_hours: float = Field(72.0, gt=0, le=24 * 30, description="how long an acknowledgement link works")
    link_secret: SecretStr | None = Field(
        None,
        description="signs acknowledgement links (>= 16 bytes); generated and kept in the outbox if unset",
    )
    ca_file: Path | None = Field(
        None, description="CA for webhooks, push and JSON targets on a site PKI (default: system trust store)"
    )
    vapid_subject: str = Field("mailto:guardian@localhost", description="who push services may contact")
    webhooks: list[str] = Field(default_factory=list, description="URLs receiving every transition, signed")
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC key for webhooks (required with webhooks)"
    )
    mqtt_alarms: bool = Field(True, description="publish transitions on guardian/{site}/alarm/{alarm_id}")
    quiet_hours: str | None = Field(
        "22:00-07:00",
        pattern=r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$",
        description="site-local hours in which P3/P4 to residents and families wait (never P1/P2)",
    )
    max_attempts: int = Field(12, ge=1, le=100)
    backoff_base: float = Field(2.0, gt=0, description="seconds; doubled per attempt, jittered")
    backoff_max: float = Field(300.0, gt=0)
    confirm_seconds: float = Field(
        120.0,
        gt=0,
        description="a push not confirmed by the phone in this time falls back to the next channel",
    )
    circuit_failures: int = Field(5, ge=1, description="consecutive failures that open a target's circuit")
    circuit_seconds: float = Field(60.0, gt=0)
    bot_per_minute: int = Field(18, ge=1, description="DingTalk/WeCom allow about 20 per bot")
    flood_messages: int = Field(10, ge=1, description="P3/P4 per person per flood window before digests")
    flood_window: float = Field(600.0, gt=0)
    concurrency: int = Field(64, ge=1, le=1024, description="sends in flight")
    send_timeout: float = Field(10.0, gt=0)
    preferences_seconds: float = Field(
        300.0, gt=0, description="how often people's notification preferences are read again from the store"
    )
    keep_days: float = Field(
        30.0, gt=0, description="finished deliveries kept in the outbox (InfluxDB keeps more)"
    )
    ladder: dict[str, dict[Severity, float | None]] = Field(
        default_factory=dict,
        description="per channel and severity: seconds after the alert before the channel is used, and only "
        "if nobody has acknowledged by then (None: never for that severity; a severity not listed: at once); "
        "a channel not listed keeps its own (voice calls: 2 min for P1, 10 min for P2, never for P3/P4)",
    )
    site_caps: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="per site and paid channel: sends a local day before P3/P4 wait for the next day, "
        "overriding the provider's site_daily_cap_* (P1/P2 are never held; past it they raise SYS-COST)",
    )
    poll_seconds: float = Field(
        60.0, gt=0, description="how often providers without callbacks are asked what became of a message"
    )
    aliyun: AliyunSettings | None = Field(
        None, description="Aliyun SMS and voice calls (docs/notifications.md)"
    )
    wechat: WeChatSettings | None = Field(None, description="the property's WeChat Official Account")
    wecom: WeComSettings | None = Field(None, description="a WeCom application, for staff")
    jpush: JPushSettings | None = Field(None, description="JPush, for the residents' native app")


class HomeAssistantSettings(_Section):
    """Residents' own Home Assistant, by MQTT discovery on their own broker (docs/home-assistant.md)."""

    enabled: bool = Field(
        False, description="connect out to the brokers households enrolled; off: no enrolment either"
    )
    min_interval: float = Field(1.0, ge=0.1, le=60, description="seconds between two states of one entity")
    health_every: float = Field(5.0, ge=0.5, le=300, description="seconds between looks at device health")
    backoff_max: float = Field(60.0, ge=1, le=3600, description="longest wait before reconnecting, jittered")


class StoreSettings(_Section):
    url: str | None = Field(
        None,
        description="SQLAlchemy async URL, e.g. postgresql+asyncpg://guardian@db/guardian; "
        "default: SQLite guardian.sqlite3 in data_dir",
    )
    password: SecretStr | None = Field(None, description="database password, kept out of the URL")


class ClusterSettings(_Section):
    """The district shape (docs/deploying.md): devices publish to a NATS cluster, each site's partition is a
    replicated JetStream stream, and gateway instances share the partitions through leases."""

    servers: list[str] = Field(
        default_factory=list, description="NATS URLs, e.g. nats://n1:4222; empty: the single-box gateway"
    )
    instance: str = Field(
        "", pattern=r"^[A-Za-z0-9_-]{0,64}$", description="this instance's name (default: host-pid)"
    )
    partitions: int = Field(32, ge=1, le=256, description="fixed when the district is made")
    replicas: int = Field(3, ge=1, le=5, description="JetStream replicas of each stream and bucket")
    lease_ttl: float = Field(10.0, ge=3.0, le=120.0, description="seconds a dead owner's partitions wait")
    snapshot_seconds: float = Field(30.0, gt=0, description="how often each partition's rule state is kept")
    retention_days: float = Field(7.0, gt=0, description="how long a partition's stream keeps messages")
    user: str | None = None
    password: SecretStr | None = None


class ApiSettings(_Section):
    jwt_key: SecretStr | None = Field(
        None, description="signs API tokens (>= 32 bytes); generated and kept in the outbox if unset"
    )
    access_minutes: float = Field(15.0, gt=0, le=240, description="access token lifetime")
    refresh_days: float = Field(14.0, gt=0, le=90, description="refresh token lifetime")
    max_body: int = Field(65536, ge=1024, le=10 << 20, description="bytes; larger request bodies get 413")
    page_max: int = Field(500, ge=10, le=5000, description="largest page a list endpoint returns")
    photo_max: int = Field(
        5 << 20, ge=64 << 10, le=20 << 20, description="bytes; a larger work-order photo gets 413"
    )
    photos_per_order: int = Field(6, ge=1, le=20, description="photos one work order holds at most")
    subscriptions_seconds: float = Field(
        30.0, ge=1, le=3600, description="a district API replica rereads push subscriptions this often"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    registry: Path = Field(Path("registry.yaml"), description="the site registry YAML")
    data_dir: Path = Field(Path("var/guardian"), description="spool and local state")
    mqtt: MqttSettings = Field(default_factory=MqttSettings)  # type: ignore[arg-type]
    influx: InfluxSettings = Field(default_factory=InfluxSettings)  # type: ignore[arg-type]
    spool: SpoolSettings = Field(default_factory=SpoolSettings)  # type: ignore[arg-type]
    http: HttpSettings = Field(default_factory=HttpSettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)  # type: ignore[arg-type]
    notify: NotifySettings = Field(default_factory=NotifySettings)  # type: ignore[arg-type]
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]
    api: ApiSettings = Field(default_factory=ApiSettings)  # type: ignore[arg-type]
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)  # type: ignore[arg-type]
    home_assistant: HomeAssistantSettings = Field(default_factory=HomeAssistantSettings)  # type: ignore[arg-type]

    def store_url(self) -> str:
        """The store's URL with its password filled in (the URL in settings and logs never holds it)."""
        from sqlalchemy.engine import make_url

        from gateway.store.db import sqlite_url

        if self.store.url is None:
            return sqlite_url(self.data_dir / "guardian.sqlite3")
        if self.store.password is None:
            return self.store.url

        return (
            make_url(self.store.url)
            .set(password=self.store.password.get_secret_value())
            .render_as_string(hide_password=False)
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls),
            SecretsDirSource(settings_cls, os.environ.get(SECRETS_DIR_ENV)),
        )


SECRETS_DIR_ENV = "GUARDIAN_SECRETS_DIR"


class SecretsDirSource(PydanticBaseSettingsSource):
    """One file per setting, `section__name`, its content the value (one trailing newline dropped).

    Hidden entries are skipped: Kubernetes mounts secrets beside `..data` links.
    """

    def __init__(self, settings_cls: type[BaseSettings], directory: str | None) -> None:
        super().__init__(settings_cls)
        self.directory = Path(directory) if directory else None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole folder at once

    def __call__(self) -> dict[str, Any]:
        if self.directory is None:
            return {}
        if not self.directory.is_dir():
            raise ConfigError(f"{SECRETS_DIR_ENV}={self.directory}: not a folder")
        values: dict[str, Any] = {}
        for path in sorted(self.directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            *sections, name = path.name.split("__")
            node = values
            for section in sections:
                node = node.setdefault(section, {})
            node[name] = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        return values


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, optionally layered over a YAML file."""
    if config_file is None:
        return Settings(**overrides)

    class _FromFile(Settings):
        model_config = SettingsConfigDict(yaml_file=config_file)

    return _FromFile(**overrides)
