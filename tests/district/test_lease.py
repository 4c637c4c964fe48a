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
            [(who, rev, age)] = (await holders(js)).values()
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


def test_listing_leaves_out_deleted_and_expired_keys_and_snapshots_carry_their_sequence(
    tmp_path: Path,
) -> None:
    """The membership listing reads the bucket's stream subjects (no consumer per heartbeat): a deleted key
    (its marker stays in the stream) and an expired one are not members. A snapshot's sequence is in its
    object metadata, as NATS stores headers (name -> list of values), so status need not download it."""
    from nats.js.api import ObjectMeta

    from gateway.district.lease import live_entries, live_keys
    from gateway.district.worker import SEQ_HEADER, snapshot_seq

    with NatsCluster(tmp_path / "nats", size=1) as cluster:

        async def go() -> None:
            nc = await nats.connect(servers=cluster.urls)
            js = nc.jetstream()
            kv = await js.create_key_value(KeyValueConfig(bucket="guardian_members", ttl=TTL, history=1))
            assert await live_entries(js, "guardian_members") == {}
            for name in ("gw-a", "gw-b", "gw-c"):
                await kv.put(name, b"{}")
            await kv.delete("gw-b")
            assert sorted(await live_keys(js, "guardian_members")) == ["gw-a", "gw-b", "gw-c"]  # a marker
            assert sorted(await live_entries(js, "guardian_members")) == ["gw-a", "gw-c"]
            await asyncio.sleep(TTL / 2)
            await kv.put("gw-c", b"{}")
            await asyncio.sleep(TTL / 2 + 0.5)
            assert sorted(await live_entries(js, "guardian_members")) == ["gw-c"]  # gw-a stopped renewing

            store = await js.create_object_store("guardian_state")
            await store.put("p07", b"x" * 10, meta=ObjectMeta(name="p07", headers={SEQ_HEADER: ["4711"]}))
            assert snapshot_seq(await store.get_info("p07")) == 4711
            await store.put("p08", b"y")
            assert snapshot_seq(await store.get_info("p08")) is None
            await nc.close()

        asyncio.run(go())
