"""The district's JetStream objects, made idempotently by whichever instance starts first.

- one stream per partition (`GUARDIAN_P07`), replicated, holding its sites' subjects (the devices' and the
  acknowledgements', `gateway.district.acks`) for `retention_days`:
  the durable log a new owner replays from. It keeps by age, not by acknowledgement, because the replay
  position is the owner's snapshot, which no consumer acknowledgement could express;
- `GUARDIAN_REJECTED`: every malformed message with its reason, kept as the spool's quarantine is on one
  box (deduplicated by the source's stream and sequence, so a replay keeps each once);
- the leases and members KV buckets, whose max age is the lease TTL;
- the object store `guardian_state`: each partition's rule state and the stream sequence it reflects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, ObjectStoreConfig, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from gateway.district.acks import ack_subjects
from gateway.district.lease import BUCKET as LEASES
from gateway.district.partitions import by_partition, site_subjects, stream_name

log = logging.getLogger(__name__)

MEMBERS = "guardian_members"
STATE = "guardian_state"
REJECTED = "GUARDIAN_REJECTED"
REJECTED_SUBJECT = "guardian_rejected"
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class District:
    leases: KeyValue
    members: KeyValue
    state: ObjectStore


async def _stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        info = await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return
    if sorted(info.config.subjects or []) != sorted(config.subjects or []):
        await js.update_stream(config)  # a site added since: its subjects join its partition's stream
        log.info("stream %s: subjects now %s", config.name, config.subjects)


async def _bucket(js: JetStreamContext, name: str, ttl: float, replicas: int) -> KeyValue:
    try:
        return await js.key_value(name)
    except (NotFoundError, BadRequestError):
        return await js.create_key_value(KeyValueConfig(bucket=name, ttl=ttl, history=1, replicas=replicas))


async def ensure(
    js: JetStreamContext,
    sites: list[str],
    *,
    partitions: int,
    replicas: int,
    retention_days: float,
    ttl: float,
) -> District:
    for partition, its_sites in by_partition(sites, partitions).items():
        # an empty partition still gets a stream (a placeholder subject), so every partition has an owner
        subjects = site_subjects(its_sites) + ack_subjects(its_sites) or [f"guardian_unused.{partition}"]
        await _stream(
            js,
            StreamConfig(
                name=stream_name(partition),
                subjects=subjects,
                num_replicas=replicas,
                storage=StorageType.FILE,
                max_age=retention_days * DAY,
            ),
        )
    await _stream(
        js,
        StreamConfig(
            name=REJECTED,
            subjects=[f"{REJECTED_SUBJECT}.>"],
            num_replicas=replicas,
            storage=StorageType.FILE,
            max_age=30 * DAY,
            duplicate_window=DAY,
        ),
    )
    leases = await _bucket(js, LEASES, ttl, replicas)
    members = await _bucket(js, MEMBERS, ttl, replicas)
    try:
        state = await js.object_store(STATE)
    except (NotFoundError, BadRequestError):
        state = await js.create_object_store(STATE, ObjectStoreConfig(bucket=STATE, replicas=replicas))
    return District(leases, members, state)
