from __future__ import annotations

from gateway.http.api.throttle import SignInThrottle


def test_failures_age_out_and_success_forgives() -> None:
    t = SignInThrottle(per_user=3, per_address=5, window=100.0)
    for i in range(3):
        assert t.wait("li", "1.2.3.4", float(i)) == 0
        t.failed("li", "1.2.3.4", float(i))
    assert t.wait("Li", "5.6.7.8", 10.0) == 90.0  # by username, whatever the address and case
    assert t.wait("li", "1.2.3.4", 99.5) == 0.5
    assert t.wait("li", "1.2.3.4", 100.0) == 0  # the first failure aged out
    t.succeeded("li")
    assert t.wait("li", "1.2.3.4", 50.0) == 0


def test_one_address_trying_many_usernames() -> None:
    t = SignInThrottle(per_user=3, per_address=5, window=100.0)
    for i in range(5):
        t.failed(f"user{i}", "1.2.3.4", 0.0)
    assert t.wait("someone-else", "1.2.3.4", 1.0) == 99.0
    assert t.wait("someone-else", "9.9.9.9", 1.0) == 0


def test_the_table_is_bounded() -> None:
    t = SignInThrottle(keys=100)
    for i in range(1000):
        t.failed(f"made-up-{i}", f"10.0.{i // 250}.{i % 250}", 0.0)
    assert len(t.failures) == 100
