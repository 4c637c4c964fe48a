"""What devices say: the v1 wire contract, the site registry and the batch decoder. No I/O, no clock."""

from sensors.columns import (
    F64,
    I32,
    I64,
    Bool,
    DecodedBatch,
    DoorEvents,
    RawMessage,
    Readings,
    Rejection,
    SensorEvents,
    Statuses,
    rejection,
)
from sensors.compact import Groups, Names
from sensors.decode import DecodeLimits, Decoder
from sensors.flood import FloodGuard, is_alarm_event
from sensors.index import DeviceIndex, DeviceKind, compile_index
from sensors.registry import (
    Contact,
    Household,
    Officer,
    RegistryError,
    Resident,
    SiteRegistry,
    parse_registry,
)
from sensors.rejections import Reason
from sensors.wire import ID_PATTERN, PSEUDONYM_PATTERN

__all__ = [
    "F64",
    "I32",
    "I64",
    "ID_PATTERN",
    "PSEUDONYM_PATTERN",
    "Bool",
    "Contact",
    "DecodeLimits",
    "DecodedBatch",
    "Decoder",
    "DeviceIndex",
    "DeviceKind",
    "DoorEvents",
    "FloodGuard",
    "Groups",
    "Household",
    "Names",
    "Officer",
    "RawMessage",
    "Readings",
    "Reason",
    "RegistryError",
    "Rejection",
    "Resident",
    "SensorEvents",
    "SiteRegistry",
    "Statuses",
    "compile_index",
    "is_alarm_event",
    "parse_registry",
    "rejection",
]
