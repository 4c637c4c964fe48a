"""The MQTT side of the gateway: a persistent MQTT 5 session with caller-controlled acknowledgement."""

from gateway.mqtt.client import ConnectRefusedError, MqttSession, SessionOptions
from gateway.mqtt.codec import ProtocolError, Publish, Will

__all__ = ["ConnectRefusedError", "MqttSession", "ProtocolError", "Publish", "SessionOptions", "Will"]
