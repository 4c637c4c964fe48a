"""The latest-state outbox: coalesces to the newest value, one send per entity a second, in event time."""

from __future__ import annotations

from gateway.homeassistant.states import LatestStates


def test_a_burst_coalesces_to_its_latest_value_and_goes_at_most_once_a_second() -> None:
    s = LatestStates(interval=1.0)
    sent: list[tuple[float, str, bytes]] = []
    now = 1000.0
    for i in range(50):  # 50 readings in half a second, each drained as it comes
        s.put("a/co_ppm/state", f"{i}".encode())
        s.put("a/gas_lel/state", f"{i / 10}".encode())
        sent += [(now, t, p) for t, p in s.due(now)]
        now += 0.01
    while s.wait(now) is not None:
        now += s.wait(now) or 0.0
        sent += [(now, t, p) for t, p in s.due(now)]
    co = [(t, p) for t, topic, p in sent if topic == "a/co_ppm/state"]
    assert co[0][1] == b"0" and co[-1][1] == b"49", "the first at once, the latest last"
    assert len(co) == 2 and co[1][0] - co[0][0] >= 1.0
    assert [p for _, topic, p in sent if topic == "a/gas_lel/state"][-1] == b"4.9"


def test_an_unchanged_value_is_not_sent_again_until_everything_is_resent() -> None:
    s = LatestStates(interval=1.0)
    s.put("t", b"OFF")
    assert s.due(0.0) == [("t", b"OFF")]
    assert not s.put("t", b"OFF") and s.due(5.0) == []
    s.resend_all()
    assert s.due(6.0) == [("t", b"OFF")]


def test_topics_beyond_the_limit_are_dropped_and_counted() -> None:
    s = LatestStates(limit=2)
    assert s.put("a", b"1") and s.put("b", b"1") and not s.put("c", b"1")
    assert s.dropped == 1 and s.put("a", b"2"), "a known topic still takes new values"
    assert sorted(s.forget()) == ["a", "b"] and len(s) == 0
