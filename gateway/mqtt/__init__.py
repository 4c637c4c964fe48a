"""The MQTT side of the gateway: a persistent MQTT 5 session with caller-controlled acknowledgement."""

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
