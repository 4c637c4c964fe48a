"""What `guardian cluster status` prints: per partition its sites, owner, lease age, lag and last snapshot.

Lag is the stream's last sequence minus the owner's last stored one (from the owner's heartbeat), so it is
at most one heartbeat stale; an unowned partition's lag counts from its snapshot, which is where its next
owner will start.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError

from gateway.config.registry_file import load_registries
from gateway.config.settings import Settings
from gateway.district.instance import Member, connect, member_decode
from gateway.district.lease import holders, key_of, live_entries
from gateway.district.partitions import by_partition, stream_name
from gateway.district.streams import MEMBERS, STATE
from gateway.district.worker import snapshot_seq as snapshot_seq_of


async def _members(js: Any) -> dict[str, Member]:
    try:
        entries = await live_entries(js, MEMBERS)
    except NotFoundError:  # no instance has started yet
        return {}
    return {k: member_decode(e.value or b"") for k, e in entries.items()}


async def district_status(settings: Settings) -> list[dict[str, Any]]:
    c = settings.cluster
    sites = by_partition([r.site for r in load_registries(settings.registry)], c.partitions)
    nc = await connect(settings)
    try:
        js = nc.jetstream(timeout=10.0)
        try:
            leases = await holders(js)
            state = await js.object_store(STATE)
        except NotFoundError:  # no instance has started yet: every partition unowned, nothing kept
            leases, state = {}, None
        members = await _members(js)
        rows = []
        for p in range(c.partitions):
            last: int | None
            try:
                info = await js.stream_info(stream_name(p))
                last = info.state.last_seq
            except NotFoundError:
                last = 0
            except NatsTimeout:  # its stream has no leader this moment (a node lost, an election)
                last = None
            snapshot_seq, snapshot_age = 0, None
            if state is not None:
                with contextlib.suppress(NotFoundError, NatsTimeout):
                    meta = await state.get_info(key_of(p))
                    snapshot_seq = snapshot_seq_of(meta) or 0
                    if meta.mtime:
                        snapshot_age = max(0.0, time.time() - _epoch(meta.mtime))
            owner, revision, age = leases.get(p, (None, 0, None))
            name = owner.instance if owner is not None else None
            done = members[name].progress.get(p, snapshot_seq) if name in members else snapshot_seq
            rows.append({
                "partition": p,
                "sites": sites[p],
                "owner": name,
                "lease_revision": revision,
                "lease_age_s": None if age is None else round(age, 1),
                "last_seq": last,
                "lag": None if last is None else max(0, last - done),
                "snapshot_seq": snapshot_seq,
                "snapshot_age_s": None if snapshot_age is None else round(snapshot_age, 1),
            })  # fmt: skip
        return rows
    finally:
        await nc.close()


def _epoch(mtime: str) -> float:
    """An RFC 3339 time with nanoseconds (`…T01:20:00.123456789Z`), to the second."""
    from datetime import datetime

    return datetime.fromisoformat(mtime[:19] + "+00:00").timestamp()


def render(rows: list[dict[str, Any]], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(rows, indent=2)
    head = (
        f"{'part':>4}  {'owner':<24} {'lease age':>9} {'last seq':>9} {'lag':>7} "
        f"{'snapshot':>9} {'snap age':>8}  sites"
    )
    lines = [head]
    for r in rows:
        age = "-" if r["lease_age_s"] is None else f"{r['lease_age_s']:.1f}s"
        snap_age = "-" if r["snapshot_age_s"] is None else f"{r['snapshot_age_s']:.0f}s"
        lines.append(
            f"{r['partition']:>4}  {r['owner'] or '(unowned)':<24} {age:>9} {r['last_seq']:>9} {r['lag']:>7} "
            f"{r['snapshot_seq']:>9} {snap_age:>8}  {','.join(r['sites']) or '-'}"
        )
    owners = {r["owner"] for r in rows if r["owner"]}
    unowned = sum(1 for r in rows if not r["owner"])
    lines.append(
        f"{len(rows)} partitions, {len(owners)} instances, {unowned} unowned, "
        f"lag {sum(r['lag'] or 0 for r in rows)}"
    )
    return "\n".join(lines)
