"""Why a message was refused. The reasons are a closed set so metrics and quarantine stay queryable."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Reason(StrEnum):
    OVERSIZE = "oversize"  # payload above the configured limit (4 KiB for one device)
    INVALID_TOPIC = "invalid_topic"  # not a v1 topic, or an id outside [A-Za-z0-9_-]{1,64}
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    INVALID_FIELD = "invalid_field"  # wrong type, missing or unknown field
    OUT_OF_RANGE = "out_of_range"  # a number outside its physical range
    NON_FINITE = "non_finite"  # NaN, Infinity, or a number that overflows to ±Inf
    UNSAFE_CHARS = "unsafe_chars"  # a string that could inject line protocol or log lines
    UNKNOWN_DEVICE = "unknown_device"  # not in the registry of this site
    DEVICE_MISMATCH = "device_mismatch"  # payload or registry contradicts the topic's device
    NO_MEASUREMENT = "no_measurement"  # telemetry carrying neither co_ppm nor gas_lel
    STORAGE_REJECTED = "storage_rejected"  # InfluxDB refused the line after splitting
    BEYOND_RETENTION = "beyond_retention"  # older than VictoriaMetrics' retention, which drops it silently
    RATE_LIMITED = "rate_limited"  # a device far above its normal rate (sensors/flood.py); sampled
    DUPLICATE_KEY = "duplicate_key"  # a JSON name twice in one object (sensors/duplicate_keys.py)


_NON_FINITE_TOKENS = (b"NaN", b"Infinity", b"nan", b"inf")


def classify_decode_error(exc: Exception, payload: bytes) -> tuple[Reason, str]:
    """Map a msgspec/Unicode failure to a reason and a short detail for the quarantine."""
    if isinstance(exc, UnicodeDecodeError):
        return Reason.INVALID_UTF8, str(exc)[:200]
    try:
        payload.decode("utf-8")  # the most basic fault first: bytes that are not text at all
    except UnicodeDecodeError as uexc:
        return Reason.INVALID_UTF8, str(uexc)[:200]
    detail = str(exc)[:200]
    if isinstance(exc, msgspec.ValidationError):
        if "out of range" in detail:
            return Reason.NON_FINITE, detail
        if "matching regex" in detail:
            return Reason.UNSAFE_CHARS, detail
        if "<=" in detail or ">=" in detail:
            return Reason.OUT_OF_RANGE, detail
        return Reason.INVALID_FIELD, detail
    if any(token in payload for token in _NON_FINITE_TOKENS):
        return Reason.NON_FINITE, detail
    return Reason.INVALID_JSON, detail
