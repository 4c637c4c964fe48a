"""Leases against a real NATS server's KV: one holder at a time, renewal by revision, expiry after the TTL,
and an old holder's late renewal refused (the revision is the fencing token)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
from nats.js.api import KeyValueConfig

from gateway.district.lease import MARGIN, Leases, holders
from gateway.ops.nats_cluster import NatsCluster

TTL = 3.0


def test_one_holder_renewal_expiry_and_fencing(tmp_path: Path) -> None:
    with NatsCluster(tmp_path / "nats", size=1) as cluster:

        async def go() -> None:
            nc = await nats.connect(servers=cluster.urls)
            js = nc.jetstream()
            kv = await js.create_key_value(KeyValueConfig(bucket="guardian_leases", ttl=TTL, history=1))
            a, b = Leases(kv, "a", ttl=TTL), Leases(kv, "b", ttl=TTL)
            mine = await a.claim(3)
            assert mine is not None and mine.valid()
            assert await b.claim(3) is None  # held
            first = mine.revision
            assert await a.renew(mine) and mine.revision > first
            [(who, rev, age)] = (await holders(kv)).values()
            assert who.instance == "a" and rev == mine.revision and age < 1.0
            # a holder that stops renewing: its own deadline passes before the bucket forgets the key
            await asyncio.sleep(TTL - MARGIN + 0.2)
            assert not mine.valid()
            await asyncio.sleep(MARGIN + 0.5)
            theirs = await b.claim(3)
            assert theirs is not None  # expired, so free
            assert not await a.renew(mine)  # the late renewal is refused by revision
            assert not mine.valid()
            await b.release(theirs)
            assert await a.claim(3) is not None  # given back: no need to wait for the TTL
            await nc.close()

        asyncio.run(go())
