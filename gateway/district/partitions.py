"""Sites to partitions, partitions to instances: the district's fixed map and its fair share (no I/O).

A site belongs to one partition for life (CRC-32 of its id modulo the partition count), so a site's devices
are one ordered log and one rule state: per-device rules need a device's whole stream in one place, which
is why the district does not spread a site's messages over several consumers (MQTT shared subscriptions
would). The partition count is fixed when the district is made; instances come and go.

The share is computed by every instance from the same inputs (the live members, the partition count), so
they agree without talking: member `k` of the sorted live list takes every partition `p` with
`p % len(members) == k`. When one joins or leaves, each instance hands over what is no longer its own
and claims what now is; the leases make sure two never hold one partition at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

PARTITIONS = 32
"""The default partition count: room for 32 instances, few enough streams for a 3-node NATS cluster."""

SUBJECT_ROOT = "guardian"
"""MQTT topic `guardian/{site}/...` is NATS subject `guardian.{site}....` (NATS maps `/` to `.`)."""


def partition_of(site: str, partitions: int = PARTITIONS) -> int:
    return zlib.crc32(site.encode()) % partitions


def stream_name(partition: int) -> str:
    return f"GUARDIAN_P{partition:02d}"


def site_subjects(sites: Iterable[str]) -> list[str]:
    """The subjects a partition's stream holds: each of its sites' whole topic tree."""
    return sorted(f"{SUBJECT_ROOT}.{site}.>" for site in sites)


def by_partition(sites: Iterable[str], partitions: int = PARTITIONS) -> dict[int, list[str]]:
    """Every partition (empty ones too: a site added later lands in its stream) with its sites."""
    out: dict[int, list[str]] = {p: [] for p in range(partitions)}
    for site in sorted(set(sites)):
        out[partition_of(site, partitions)].append(site)
    return out


def share(member: str, members: Sequence[str], partitions: int = PARTITIONS) -> set[int]:
    """The partitions `member` should own while `members` are alive (empty if it is not among them)."""
    live = sorted(set(members))
    if member not in live:
        return set()
    k = live.index(member)
    return {p for p in range(partitions) if p % len(live) == k}


def topic_of(subject: str) -> str:
    """A NATS subject back to the MQTT topic the device published (ids hold no `.` or `/`)."""
    return subject.replace(".", "/")


def subject_of(topic: str) -> str:
    return topic.replace("/", ".")
