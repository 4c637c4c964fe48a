"""The sign-in throttle counts in the store: the same rules as before, on SQLite and PostgreSQL, and one
count for every replica that shares the store (two throttles here, as two API processes would be)."""

from __future__ import annotations

from gateway.store.db import Store
from gateway.store.signins import SignInThrottle


async def test_failures_age_out_and_success_forgives(store: Store) -> None:
    t = SignInThrottle(store, per_user=3, per_address=5, window=100.0)
    for i in range(3):
        assert await t.wait("li", "1.2.3.4", float(i)) == 0
        await t.failed("li", "1.2.3.4", float(i))
    assert await t.wait("Li", "5.6.7.8", 10.0) == 90.0  # by username, whatever the address and case
    assert await t.wait("li", "1.2.3.4", 99.5) == 0.5
    assert await t.wait("li", "1.2.3.4", 100.0) == 0  # the first failure aged out
    await t.succeeded("li")
    assert await t.wait("li", "1.2.3.4", 50.0) == 0


async def test_one_address_trying_many_usernames(store: Store) -> None:
    t = SignInThrottle(store, per_user=3, per_address=5, window=100.0)
    for i in range(5):
        await t.failed(f"user{i}", "1.2.3.4", 0.0)
    assert await t.wait("someone-else", "1.2.3.4", 1.0) == 99.0
    assert await t.wait("someone-else", "9.9.9.9", 1.0) == 0


async def test_every_attempt_is_rate_limited_right_or_wrong(store: Store) -> None:
    t = SignInThrottle(store, per_user_minute=4, per_address_minute=100)
    for i in range(4):
        assert await t.wait("wang", "1.2.3.4", 10.0 + i) == 0
        await t.attempted("wang", "1.2.3.4", 10.0 + i)
        await t.succeeded("wang")  # the right password each time: still counted
    assert await t.wait("wang", "1.2.3.4", 20.0) == 50.0
    assert await t.wait("wang", "1.2.3.4", 70.0) == 0


async def test_replicas_sharing_a_store_share_one_count(store: Store) -> None:
    """Behind a load balancer, each try may land on another replica: five failures spread over two still
    lock the username on both."""
    a, b = (SignInThrottle(store, per_user=5, window=900.0) for _ in range(2))
    for i in range(5):
        await (a if i % 2 else b).failed("zhao", f"10.0.0.{i}", 100.0 + i)
    assert await a.wait("zhao", "10.9.9.9", 110.0) > 0
    assert await b.wait("zhao", "10.9.9.9", 110.0) == await a.wait("zhao", "10.9.9.9", 110.0)
    assert await SignInThrottle(store).wait("zhao", "10.9.9.9", 110.0) > 0  # a restarted process too


async def test_rows_older_than_the_window_are_deleted(store: Store) -> None:
    t = SignInThrottle(store, window=100.0)
    for i in range(50):
        await t.failed(f"made-up-{i}", f"10.0.0.{i}", float(i))
    assert await t.rows() == 100  # a username and an address each
    await t.failed("late", "10.1.1.1", 200.0)
    assert await t.rows() == 2
