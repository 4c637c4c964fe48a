"""What devices say: the v1 wire contract, the site registry and the batch decoder. No I/O, no clock."""

from sensors.decode import (
    DecodedBatch,
    DecodeLimits,
    Decoder,
    DoorEvents,
    RawMessage,
    Readings,
    Rejection,
    SensorEvents,
    Statuses,
)
from sensors.index import DeviceIndex, DeviceKind, compile_index
from sensors.registry import RegistryError, SiteRegistry, parse_registry
from sensors.rejections import Reason

__all__ = [
    "DecodeLimits",
    "DecodedBatch",
    "Decoder",
    "DeviceIndex",
    "DeviceKind",
    "DoorEvents",
    "RawMessage",
    "Readings",
    "Reason",
    "RegistryError",
    "Rejection",
    "SensorEvents",
    "SiteRegistry",
    "Statuses",
    "compile_index",
    "parse_registry",
]
