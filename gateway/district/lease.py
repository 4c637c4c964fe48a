"""Partition leases in a NATS KV bucket: who owns a partition, for how long, and the fencing token.

A lease is the key `p07` in the bucket `guardian_leases`, whose max age is the lease's TTL: a key not
renewed within it is gone, and any instance may create it again. Creating and renewing are compare-and-set
on the key's revision (`create` fails if the key exists, `update` fails unless the revision is the one we
hold), so at most one instance holds a given revision, and the revision is the fencing token.

The holder also keeps a local deadline on the monotonic clock (renewed at + TTL - margin). It keeps
counting while the process is frozen (SIGSTOP, a long GC pause, a suspended VM), so an owner that wakes up
after its lease ran out knows it before it writes anything: `valid()` is false, its output is discarded,
and the next renewal is refused by revision because the new owner's create moved it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

BUCKET = "guardian_leases"
TTL = 10.0
"""Seconds a lease lasts without renewal: the longest a dead owner's partitions stay unowned (plus the
claim loop's period)."""
MARGIN = 2.5
"""The holder stops trusting its lease this long before the bucket would expire it: room for clock rate
differences and a renewal in flight."""


class Holder(msgspec.Struct, frozen=True):
    instance: str
    since: float
    """Wall-clock time the lease was first taken, for `guardian cluster status`."""
    renewed: float = 0.0
    """Wall-clock time of the last renewal (the status's lease age)."""


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Holder).decode


@dataclass(slots=True)
class Lease:
    partition: int
    revision: int
    holder: Holder
    deadline: float
    """Monotonic time after which this holder must not act on the partition."""
    clock: Callable[[], float] = time.monotonic

    def valid(self) -> bool:
        return self.clock() < self.deadline


def key_of(partition: int) -> str:
    """A partition's name in the leases bucket, the members' progress and the state object store."""
    return f"p{partition:02d}"


class Leases:
    def __init__(
        self, kv: KeyValue, instance: str, *, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.kv = kv
        self.instance = instance
        self.ttl = ttl
        self.clock = clock

    def _deadline(self, started: float) -> float:
        return started + self.ttl - MARGIN

    async def claim(self, partition: int) -> Lease | None:
        """The partition's lease if nobody holds it; None if someone does."""
        started = self.clock()
        now = time.time()
        holder = Holder(self.instance, now, now)
        try:
            revision = await self.kv.create(key_of(partition), _encode(holder))
        except BadRequestError:  # KeyWrongLastSequenceError: the key exists
            return None
        log.info("partition %d: lease taken (revision %d)", partition, revision)
        return Lease(partition, revision, holder, self._deadline(started), self.clock)

    async def renew(self, lease: Lease) -> bool:
        """Moves the deadline on; False (and the lease is dead) if someone else holds the key now."""
        started = self.clock()
        holder = msgspec.structs.replace(lease.holder, renewed=time.time())
        try:
            revision = await self.kv.update(key_of(lease.partition), _encode(holder), last=lease.revision)
        except (BadRequestError, NotFoundError):
            lease.deadline = 0.0
            log.warning(
                "partition %d: lease lost (revision %d is no longer ours)", lease.partition, lease.revision
            )
            return False
        lease.revision, lease.holder = revision, holder
        lease.deadline = self._deadline(started)
        return True

    async def release(self, lease: Lease) -> None:
        """Given back on hand-over, so the next owner need not wait for the TTL."""
        lease.deadline = 0.0
        with contextlib.suppress(BadRequestError, NotFoundError):  # already someone else's, or expired
            await self.kv.delete(key_of(lease.partition), last=lease.revision)


async def live_keys(js: JetStreamContext, bucket: str) -> list[str]:
    """The keys of a bucket that hold a message (a value or a delete marker), from its stream's subjects.

    One API request answered by the stream's leader. `KeyValue.keys()` instead creates and deletes an
    ordered consumer per call, and in a cluster each consumer is a proposal to the meta leader: a heartbeat
    making two a second per instance floods the meta layer exactly while it re-elects after a node loss,
    and the whole district's KV writes time out with it.
    """
    prefix = f"$KV.{bucket}."
    info = await js.stream_info(f"KV_{bucket}", subjects_filter=prefix + ">")
    return [subject[len(prefix) :] for subject in info.state.subjects or {}]


async def live_entries(js: JetStreamContext, bucket: str) -> dict[str, KeyValue.Entry]:
    """Every key of a bucket with a value now (an empty bucket, an expired or deleted key: left out)."""
    kv = await js.key_value(bucket)
    out: dict[str, KeyValue.Entry] = {}
    for key in await live_keys(js, bucket):
        try:
            entry = await kv.get(key)
        except NotFoundError:  # deleted (a marker), or expired since the listing
            continue
        if entry.value:
            out[key] = entry
    return out


async def holders(js: JetStreamContext) -> dict[int, tuple[Holder, int, float]]:
    """partition -> (holder, revision, seconds since the last renewal), for the live leases."""
    out: dict[int, tuple[Holder, int, float]] = {}
    for key, entry in (await live_entries(js, BUCKET)).items():
        if key.startswith("p"):
            holder = _decode(entry.value or b"")
            out[int(key[1:])] = (holder, entry.revision or 0, max(0.0, time.time() - holder.renewed))
    return out
