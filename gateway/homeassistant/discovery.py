"""What Home Assistant is told about one of a resident's devices: its device-based discovery message.

Home Assistant's MQTT integration reads `<prefix>/device/<object_id>/config`: one retained JSON object per
device that names the device (`dev`), who publishes it (`o`, required for device discovery), its
availability and, under `cmps`, every entity the device has. Keys are sent in Home Assistant's own
abbreviations (`stat_t`, `dev_cla`, `uniq_id`…), which its discovery expands before validating.

What each kind of device gets:

- a CO detector: a `carbon_monoxide` binary sensor (an open CO alarm on it) and a `carbon_monoxide`
  sensor in ppm;
- a gas detector: a `gas` binary sensor (an open gas alarm) and a %LEL sensor with no device class
  (Home Assistant's `gas` *sensor* class means a volume of gas in m³, not a fraction of the lower
  explosive limit);
- every detector: a `problem` binary sensor (its health), a battery sensor unless it is mains powered;
- a door controller of the household's unit: a `problem` binary sensor (its health: the unit's door
  alarms are the unit's, not the household's, and stay out);
- every detector: an "acknowledge" button that acknowledges the detector's open alarms.

Availability is two topics that must both say `online` (`availability_mode: all`): the gateway's own
(its link's will says `offline` when the gateway goes away) and the device's (the gateway's view of the
detector: `offline` when it has gone silent). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["co", "gas", "co_gas", "door"]
Platform = Literal["binary_sensor", "sensor", "button"]

ORIGIN = {"name": "Gas Guardian", "sw": "0.1.0"}
MANUFACTURER = "Gas Guardian"
TOPIC_ROOT = "gas-guardian"
ONLINE, OFFLINE = b"online", b"offline"
ON, OFF = b"ON", b"OFF"
PRESS = "PRESS"


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity of a device as Home Assistant shows it; `key` is its component id under `cmps`."""

    key: str
    platform: Platform
    name: str
    device_class: str | None = None
    unit: str | None = None
    state_class: str | None = None
    category: str | None = None
    icon: str | None = None


CO_ALARM = Entity("co", "binary_sensor", "一氧化碳报警 CO alarm", device_class="carbon_monoxide")
GAS_ALARM = Entity("gas", "binary_sensor", "燃气泄漏报警 Gas alarm", device_class="gas")
CO_PPM = Entity(
    "co_ppm",
    "sensor",
    "一氧化碳浓度 CO",
    device_class="carbon_monoxide",
    unit="ppm",
    state_class="measurement",
)
GAS_LEL = Entity(
    "gas_lel", "sensor", "燃气浓度 Gas", unit="%LEL", state_class="measurement", icon="mdi:gas-burner"
)
PROBLEM = Entity(
    "health", "binary_sensor", "设备故障 Device problem", device_class="problem", category="diagnostic"
)
BATTERY = Entity(
    "battery",
    "sensor",
    "电池 Battery",
    device_class="battery",
    unit="%",
    state_class="measurement",
    category="diagnostic",
)
DOOR_PROBLEM = Entity(
    "health", "binary_sensor", "门禁故障 Door problem", device_class="problem", category="diagnostic"
)
ACKNOWLEDGE = Entity("acknowledge", "button", "确认报警 Acknowledge alarm", icon="mdi:bell-check")

_KIND_NAME = {
    "co": "一氧化碳探测器 CO detector",
    "gas": "燃气探测器 Gas detector",
    "co_gas": "燃气/一氧化碳探测器 Gas/CO detector",
    "door": "单元门禁 Entrance door",
}


@dataclass(frozen=True, slots=True)
class DeviceCard:
    """One of the household's devices, as much of it as leaves the gateway: ids, kind, model."""

    site: str
    household: str
    device: str
    kind: Kind
    mains: bool = False
    model: str = ""

    @property
    def object_id(self) -> str:
        """The discovery topic's object id and the device's identifier ([a-zA-Z0-9_-], as HA requires)."""
        return f"gas_guardian_{self.site}_{self.device}"

    @property
    def base(self) -> str:
        return f"{TOPIC_ROOT}/{self.site}/{self.device}"

    def entities(self) -> tuple[Entity, ...]:
        if self.kind == "door":
            return (DOOR_PROBLEM,)
        out: list[Entity] = []
        if self.kind in ("co", "co_gas"):
            out += [CO_ALARM, CO_PPM]
        if self.kind in ("gas", "co_gas"):
            out += [GAS_ALARM, GAS_LEL]
        out.append(PROBLEM)
        if not self.mains:
            out.append(BATTERY)
        out.append(ACKNOWLEDGE)
        return tuple(out)

    def has(self, key: str) -> bool:
        return any(e.key == key for e in self.entities())

    def state_topic(self, key: str) -> str:
        return f"{self.base}/{key}/state"

    @property
    def command_topic(self) -> str:
        return f"{self.base}/{ACKNOWLEDGE.key}/press"

    @property
    def availability_topic(self) -> str:
        """The device's heartbeat as the gateway sees it: retained online/offline."""
        return f"{self.base}/availability"


def gateway_topic(site: str, household: str) -> str:
    """The gateway's availability on this household's broker: its link's will sets it `offline`."""
    return f"{TOPIC_ROOT}/{site}/{household}/gateway"


def command_filter(site: str) -> str:
    """The subscription that receives every acknowledge button's press of a site's devices."""
    return f"{TOPIC_ROOT}/{site}/+/{ACKNOWLEDGE.key}/press"


def device_of_command(site: str, topic: str) -> str | None:
    """The device a press topic names, or None for a topic that is no press of this site's."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[:2] == [TOPIC_ROOT, site] and parts[3:] == [ACKNOWLEDGE.key, "press"]:
        return parts[2]
    return None


def config_topic(prefix: str, card: DeviceCard) -> str:
    return f"{prefix}/device/{card.object_id}/config"


def _component(card: DeviceCard, e: Entity) -> dict[str, Any]:
    c: dict[str, Any] = {"p": e.platform, "name": e.name, "uniq_id": f"{card.object_id}_{e.key}"}
    if e.device_class is not None:
        c["dev_cla"] = e.device_class
    if e.unit is not None:
        c["unit_of_meas"] = e.unit
    if e.state_class is not None:
        c["stat_cla"] = e.state_class
    if e.category is not None:
        c["ent_cat"] = e.category
    if e.icon is not None:
        c["ic"] = e.icon
    if e.platform == "button":
        c["cmd_t"] = card.command_topic
        c["pl_prs"] = PRESS
        c["ret"] = False
    else:
        c["stat_t"] = card.state_topic(e.key)
    if e.platform == "sensor":
        c["sug_dsp_prc"] = 1 if e.key != "battery" else 0
    return c


def discovery(card: DeviceCard) -> dict[str, Any]:
    """The device-based discovery payload for one device (abbreviated keys, as HA reads them)."""
    device: dict[str, Any] = {
        "ids": [card.object_id],
        "name": f"{_KIND_NAME[card.kind]} {card.device}",
        "mf": MANUFACTURER,
        "sa": "入户门 Entrance" if card.kind == "door" else "厨房 Kitchen",
    }
    if card.model:
        device["mdl"] = card.model
    return {
        "dev": device,
        "o": dict(ORIGIN),
        "avty": [
            {"t": gateway_topic(card.site, card.household)},
            {"t": card.availability_topic},
        ],
        "avty_mode": "all",
        "qos": 1,
        "cmps": {e.key: _component(card, e) for e in card.entities()},
    }
