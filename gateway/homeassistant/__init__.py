"""Home Assistant by MQTT discovery, for the households that opt in (docs/home-assistant.md): the payload
builder, the latest-state outbox, a household's view, its outbound link, and the bridge that feeds them."""

from gateway.homeassistant.bridge import HomeAssistantBridge, LinkStatus
from gateway.homeassistant.discovery import DeviceCard, Entity, config_topic, discovery, gateway_topic
from gateway.homeassistant.home import Home
from gateway.homeassistant.link import HomeLink
from gateway.homeassistant.sealing import Sealer
from gateway.homeassistant.states import LatestStates

__all__ = [
    "DeviceCard",
    "Entity",
    "Home",
    "HomeAssistantBridge",
    "HomeLink",
    "LatestStates",
    "LinkStatus",
    "Sealer",
    "config_topic",
    "discovery",
    "gateway_topic",
]
