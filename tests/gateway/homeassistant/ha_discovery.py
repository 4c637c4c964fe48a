"""Home Assistant's MQTT discovery rules, applied to a message as Home Assistant applies them.

Written for these tests from Home Assistant's own source (home-assistant/core), so that a payload the
gateway publishes is refused here for the reasons Home Assistant would refuse it:

- homeassistant/components/mqtt/discovery.py: the discovery topic pattern (TOPIC_MATCHER), the expansion of
  abbreviations at the root, in `origin`, in `device`, in each `availability` entry and, for device-based
  discovery, in every component under `components` (`_replace_all_abbreviations`); each component's
  `platform` popped and the shared options merged into components that do not set them
  (`_merge_common_device_options`);
- homeassistant/components/mqtt/abbreviations.py: ABBREVIATIONS, DEVICE_ABBREVIATIONS and
  ORIGIN_ABBREVIATIONS (the subset a payload of ours could use; a key outside it is reported, since an
  abbreviation Home Assistant does not know is silently dropped there);
- homeassistant/components/mqtt/schemas.py: DEVICE_DISCOVERY_SCHEMA (`device`, `components` and `origin`
  required; `origin` needs `name`; a device needs an identifier or a connection), the availability
  schemas (each entry needs `topic`; `availability_mode` one of const.AVAILABILITY_MODES;
  `availability_topic` and `availability` exclusive) and SHARED_OPTIONS;
- homeassistant/components/mqtt/const.py: AVAILABILITY_MODES, DEFAULT_PAYLOAD_AVAILABLE/NOT_AVAILABLE,
  DEFAULT_PAYLOAD_PRESS, the binary sensor's ON/OFF defaults;
- homeassistant/components/mqtt/binary_sensor.py and sensor.py (read-only: `state_topic` required, a valid
  subscribe topic), button.py (`command_topic` required, a valid publish topic);
- homeassistant/components/binary_sensor/__init__.py (BinarySensorDeviceClass),
  homeassistant/components/sensor/const.py (SensorDeviceClass, SensorStateClass, DEVICE_CLASS_UNITS for
  the classes used here), homeassistant/components/button/__init__.py (ButtonDeviceClass);
- the MQTT integration's documentation (device-based discovery): a `unique_id` is required for every
  entity component, and unique ids must be unique.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

TOPIC = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)

ABBREVIATIONS = {
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "cmps": "components",
    "def_ent_id": "default_entity_id",
    "dev": "device",
    "dev_cla": "device_class",
    "dsp_prc": "display_precision",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "ent_pic": "entity_picture",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "name": "name",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "opt": "optimistic",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "sug_dsp_prc": "suggested_display_precision",
    "t": "topic",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections",
    "cu": "configuration_url",
    "hw": "hw_version",
    "ids": "identifiers",
    "mdl": "model",
    "mdl_id": "model_id",
    "mf": "manufacturer",
    "name": "name",
    "sa": "suggested_area",
    "sn": "serial_number",
    "sw": "sw_version",
}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}

SHARED_OPTIONS = (
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "command_topic",
    "payload_available",
    "payload_not_available",
    "state_topic",
)
AVAILABILITY_MODES = ("all", "any", "latest")
SUPPORTED_PLATFORMS = frozenset(
    {"alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover", "device_automation",
     "device_tracker", "event", "fan", "humidifier", "image", "lawn_mower", "light", "lock", "notify",
     "number", "scene", "select", "sensor", "siren", "switch", "tag", "text", "update", "vacuum", "valve",
     "water_heater"}
)  # fmt: skip

BINARY_SENSOR_CLASSES = frozenset(
    {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas",
     "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power",
     "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"}
)  # fmt: skip
SENSOR_CLASSES = frozenset(
    {"date", "enum", "timestamp", "apparent_power", "aqi", "area", "atmospheric_pressure", "battery",
     "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide", "conductivity", "current",
     "data_rate", "data_size", "distance", "duration", "energy", "energy_distance", "energy_storage",
     "frequency", "gas", "humidity", "illuminance", "irradiance", "moisture", "monetary", "nitrogen_dioxide",
     "nitrogen_monoxide", "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "power_factor", "power",
     "precipitation", "precipitation_intensity", "pressure", "reactive_power", "signal_strength",
     "sound_pressure", "speed", "sulphur_dioxide", "temperature", "temperature_delta",
     "volatile_organic_compounds", "volatile_organic_compounds_parts", "voltage", "volume",
     "volume_storage", "volume_flow_rate", "water", "weight", "wind_direction", "wind_speed"}
)  # fmt: skip
SENSOR_CLASS_UNITS = {
    "battery": {"%"},
    "carbon_monoxide": {"ppm"},
    "carbon_dioxide": {"ppm"},
    "gas": {"m³", "ft³", "CCF"},
}
"""sensor/const.py DEVICE_CLASS_UNITS, for the classes a gas detector could be given."""
STATE_CLASSES = frozenset({"measurement", "total", "total_increasing"})
BUTTON_CLASSES = frozenset({"identify", "restart", "update"})
ENTITY_CATEGORIES = frozenset({"config", "diagnostic"})

_COMMON = {
    "availability", "availability_mode", "availability_template", "availability_topic", "default_entity_id",
    "device", "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon",
    "json_attributes_template", "json_attributes_topic", "name", "object_id", "origin",
    "payload_available", "payload_not_available", "qos", "unique_id",
}  # fmt: skip
PLATFORM_KEYS = {
    "binary_sensor": _COMMON | {"device_class", "expire_after", "force_update", "off_delay", "payload_off",
                                "payload_on", "state_topic", "value_template"},
    "sensor": _COMMON | {"device_class", "expire_after", "force_update", "state_class", "state_topic",
                         "suggested_display_precision", "unit_of_measurement", "value_template", "options"},
    "button": _COMMON | {"command_template", "command_topic", "device_class", "payload_press", "retain"},
}  # fmt: skip


class Refused(ValueError):
    """Home Assistant would refuse (or silently drop) this message: why."""


@dataclass
class Entity:
    """One component as Home Assistant sets it up: platform, expanded config, where it came from."""

    platform: str
    object_id: str
    component_id: str
    config: dict[str, Any]


@dataclass
class Discovered:
    """Everything parsed so far, as Home Assistant's discovery keeps it."""

    entities: dict[str, Entity] = field(default_factory=dict)
    """By unique id."""
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By discovery object id: the expanded device-based payload."""


def _expand(d: Any, table: dict[str, str], where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise Refused(f"{where}: a JSON object is needed, got {type(d).__name__}")
    out: dict[str, Any] = {}
    for k, v in d.items():
        full = table.get(k, k)
        if full in out:
            raise Refused(f"{where}: {k!r} and its full name both given")
        out[full] = v
    return out


def _subscribe_topic(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v or "\0" in v or len(v.encode()) > 65535:
        raise Refused(f"{where}: not a valid MQTT topic: {v!r}")
    levels = v.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise Refused(f"{where}: '#' only as the whole last level: {v!r}")
        if "+" in level and level != "+":
            raise Refused(f"{where}: '+' only as a whole level: {v!r}")
    return v


def _publish_topic(v: Any, where: str) -> str:
    _subscribe_topic(v, where)
    if "+" in v or "#" in v:
        raise Refused(f"{where}: wildcards are not allowed in a publish topic: {v!r}")
    return str(v)


def _availability(conf: dict[str, Any], where: str) -> None:
    if "availability" in conf and "availability_topic" in conf:
        raise Refused(f"{where}: availability and availability_topic are exclusive")
    mode = conf.get("availability_mode", "latest")
    if mode not in AVAILABILITY_MODES:
        raise Refused(f"{where}: availability_mode {mode!r} not one of {AVAILABILITY_MODES}")
    if "availability_topic" in conf:
        _subscribe_topic(conf["availability_topic"], f"{where}.availability_topic")
    if "availability" in conf:
        entries = conf["availability"] if isinstance(conf["availability"], list) else [conf["availability"]]
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or "topic" not in entry:
                raise Refused(f"{where}.availability[{n}]: `topic` is required")
            _subscribe_topic(entry["topic"], f"{where}.availability[{n}].topic")
            unknown = set(entry) - {"topic", "payload_available", "payload_not_available", "value_template"}
            if unknown:
                raise Refused(f"{where}.availability[{n}]: unknown keys {sorted(unknown)}")


def _device(dev: dict[str, Any], where: str) -> None:
    if not (dev.get("identifiers") or dev.get("connections")):
        raise Refused(f"{where}: a device needs at least one identifier or connection")
    unknown = set(dev) - set(DEVICE_ABBREVIATIONS.values()) - {"via_device"}
    if unknown:
        raise Refused(f"{where}: unknown device keys {sorted(unknown)}")


def _component(platform: str, c: dict[str, Any], where: str) -> None:
    unknown = set(c) - PLATFORM_KEYS.get(platform, set(c))
    if unknown:
        raise Refused(f"{where}: keys {platform} does not have: {sorted(unknown)}")
    if "unique_id" not in c or not isinstance(c["unique_id"], str) or not c["unique_id"]:
        raise Refused(f"{where}: `unique_id` is required for an entity component")
    category = c.get("entity_category")
    if category is not None and category not in ENTITY_CATEGORIES:
        raise Refused(f"{where}: entity_category {category!r}")
    dc = c.get("device_class")
    if platform in ("binary_sensor", "sensor"):
        if "state_topic" not in c:
            raise Refused(f"{where}: `state_topic` is required for {platform}")
        _subscribe_topic(c["state_topic"], f"{where}.state_topic")
        if category == "config":
            raise Refused(f"{where}: a {platform} cannot have entity category config")
    if platform == "binary_sensor" and dc is not None and dc not in BINARY_SENSOR_CLASSES:
        raise Refused(f"{where}: {dc!r} is no binary_sensor device class")
    if platform == "sensor":
        if dc is not None and dc not in SENSOR_CLASSES:
            raise Refused(f"{where}: {dc!r} is no sensor device class")
        if dc in SENSOR_CLASS_UNITS and c.get("unit_of_measurement") not in SENSOR_CLASS_UNITS[dc]:
            raise Refused(
                f"{where}: unit {c.get('unit_of_measurement')!r} is not one of device class {dc!r}: "
                f"{sorted(SENSOR_CLASS_UNITS[dc])}"
            )
        sc = c.get("state_class")
        if sc is not None and sc not in STATE_CLASSES:
            raise Refused(f"{where}: state_class {sc!r}")
    if platform == "button":
        if "command_topic" not in c:
            raise Refused(f"{where}: `command_topic` is required for button")
        _publish_topic(c["command_topic"], f"{where}.command_topic")
        if dc is not None and dc not in BUTTON_CLASSES:
            raise Refused(f"{where}: {dc!r} is no button device class")


def parse(topic: str, payload: bytes | str, seen: Discovered, prefix: str = "homeassistant") -> list[Entity]:
    """One retained discovery message, as Home Assistant takes it; the entities it sets up (none for an
    empty payload: a removal). Raises Refused with the reason Home Assistant would give."""
    if not topic.startswith(prefix + "/"):
        raise Refused(f"{topic}: not under the discovery prefix {prefix!r}")
    m = TOPIC.fullmatch(topic[len(prefix) + 1 :])
    if m is None:
        raise Refused(f"{topic}: illegal discovery topic")
    component, node_id, object_id = m.groups()
    if component != "device":
        raise Refused(f"{topic}: only device-based discovery is expected here, not {component!r}")
    discovery_id = f"{node_id} {object_id}" if node_id else object_id
    text = payload.decode() if isinstance(payload, bytes) else payload
    if text == "":
        old = seen.devices.pop(discovery_id, None)
        for uid in [u for u, e in seen.entities.items() if e.object_id == discovery_id] if old else []:
            del seen.entities[uid]
        return []
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise Refused(f"{topic}: not JSON: {exc}") from exc
    root = _expand(raw, ABBREVIATIONS, topic)
    for key in ("device", "components", "origin"):
        if key not in root:
            raise Refused(f"{topic}: `{key}` is required in a device discovery payload")
    root["device"] = _expand(root["device"], DEVICE_ABBREVIATIONS, f"{topic}.device")
    root["origin"] = _expand(root["origin"], ORIGIN_ABBREVIATIONS, f"{topic}.origin")
    if not isinstance(root["origin"].get("name"), str) or not root["origin"]["name"]:
        raise Refused(f"{topic}.origin: `name` is required")
    _device(root["device"], f"{topic}.device")
    if isinstance(root.get("availability"), list):
        root["availability"] = [
            _expand(a, ABBREVIATIONS, f"{topic}.availability") for a in root["availability"]
        ]
    _availability(root, topic)
    if "qos" in root and root["qos"] not in (0, 1, 2):
        raise Refused(f"{topic}: qos {root['qos']!r}")
    unknown = set(root) - {"device", "components", "origin", "state_topic", "command_topic", "qos",
                           "encoding"} - set(SHARED_OPTIONS)  # fmt: skip
    if unknown:
        raise Refused(f"{topic}: keys a device payload does not have: {sorted(unknown)}")
    if not isinstance(root["components"], dict) or not root["components"]:
        raise Refused(f"{topic}: `components` must map component ids to configs")
    out = []
    previous = {u for u, e in seen.entities.items() if e.object_id == discovery_id}
    for cid, raw_c in root["components"].items():
        c = _expand(raw_c, ABBREVIATIONS, f"{topic}.components.{cid}")
        if isinstance(c.get("availability"), list):
            c["availability"] = [
                _expand(a, ABBREVIATIONS, f"{topic}.{cid}.availability") for a in c["availability"]
            ]
        platform = c.pop("platform", None)
        if platform not in SUPPORTED_PLATFORMS:
            raise Refused(f"{topic}.components.{cid}: platform {platform!r} is not supported")
        for option in SHARED_OPTIONS:
            if option in root and option not in c:
                c[option] = root[option]
        c["device"], c["origin"] = root["device"], root["origin"]
        _availability(c, f"{topic}.components.{cid}")
        _component(platform, c, f"{topic}.components.{cid}")
        uid = c["unique_id"]
        if uid in seen.entities and uid not in previous:
            raise Refused(f"{topic}.components.{cid}: unique_id {uid!r} is already taken")
        if uid in {e.config["unique_id"] for e in out}:
            raise Refused(f"{topic}.components.{cid}: unique_id {uid!r} twice in one payload")
        out.append(Entity(platform, discovery_id, cid, c))
    for uid in previous:
        del seen.entities[uid]
    for e in out:
        seen.entities[e.config["unique_id"]] = e
    seen.devices[discovery_id] = root
    return out


def state_of(entity: Entity, payload: bytes) -> Any:
    """The state Home Assistant shows for a payload on the entity's state topic: True/False/None for a
    binary sensor (payload_on, payload_off, 'None'; anything else is ignored and raises here), a float for
    a sensor with a unit."""
    text = payload.decode()
    if entity.platform == "binary_sensor":
        on, off = entity.config.get("payload_on", "ON"), entity.config.get("payload_off", "OFF")
        if text in (on, off, "None"):
            return None if text == "None" else text == on
        raise Refused(f"{entity.config['unique_id']}: {text!r} matches neither {on!r} nor {off!r}")
    if entity.config.get("unit_of_measurement") is not None:
        try:
            return float(text)
        except ValueError as exc:
            raise Refused(f"{entity.config['unique_id']}: {text!r} is not numeric") from exc
    return text


def available(entity: Entity, retained: dict[str, bytes]) -> bool:
    """Availability as Home Assistant computes it from the topics' retained payloads and the mode."""
    entries = entity.config.get("availability") or []
    if "availability_topic" in entity.config:
        entries = [{"topic": entity.config["availability_topic"]}]
    states = [retained.get(a["topic"], b"").decode() == a.get("payload_available", "online") for a in entries]
    mode = entity.config.get("availability_mode", "latest")
    if not states:
        return True
    return all(states) if mode == "all" else any(states) if mode == "any" else states[-1]
