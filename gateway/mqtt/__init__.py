"""The MQTT side of the gateway: a persistent MQTT 5 (or 3.1.1) session, acknowledged by the caller."""

from gateway.errors import ConnectRefusedError, ProtocolError
from gateway.mqtt.client import MqttSession, SessionOptions, probe_connect
from gateway.mqtt.codec import Publish, Will

__all__ = [
    "ConnectRefusedError",
    "MqttSession",
    "ProtocolError",
    "Publish",
    "SessionOptions",
    "Will",
    "probe_connect",
]
