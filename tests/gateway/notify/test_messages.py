"""The rendered message: a frozen Struct inside the gateway, the previous release's JSON outside it (the
sirens' MQTT payload, the control room's webhook, a phone's push) and in the outbox's rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec
import pytest

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.notify import messages
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery, OutboxStore

TS = 1718000000.123456


def transition(kind: str = "raised", household: str = "b3-u2-501", by: str | None = None) -> Transition:
    return Transition(
        ts=TS,
        alarm_id=f"t1:CO-1:s-0:{kind}:{household}",
        rule="CO-1",
        severity=Severity.P1,
        transition=kind,  # type: ignore[arg-type]
        where=Where("t1", "b3", "b3-u2", household),
        subject="s-0",
        notify=(Audience.RESIDENTS,),
        by=by,
    )


def dumps(value: object) -> bytes:
    """How the previous release wrote every message: the stdlib's JSON, UTF-8, compact."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(("kind", "by"), [("raised", None), ("acknowledged", "张伟"), ("cleared", None)])
def test_the_wire_is_the_previous_releases_json_byte_for_byte(kind: str, by: str | None) -> None:
    m = msgspec.structs.replace(messages.render(transition(kind, by=by)), decided_at=TS + 0.25)
    before = {  # the previous release's dict, its keys in its order
        "alarm_id": m.alarm_id,
        "rule": "CO-1",
        "severity": "P1",
        "transition": kind,
        "ts": round(TS, 3),
        "site": "t1",
        "building": "b3",
        "household": "b3-u2-501",
        "subject": "s-0",
        "title": m.title,
        "body": m.body,
        "title_zh": m.title_zh,
        "body_zh": m.body_zh,
        "decided_at": TS + 0.25,
    }
    assert "一氧化碳" in m.title_zh and m.title.startswith("P1 ")
    assert messages.payload(m) == dumps(before)  # MQTT: the message alone
    assert messages.payload(m, "k|1") == dumps({**before, "delivery": "k|1"})  # webhook, web push


def test_what_a_delivery_adds_is_a_copy_and_bookkeeping_stays_home() -> None:
    m = messages.render(transition())
    mine = msgspec.structs.replace(m, ack_url="http://gateway/ack/tok", ack="tok", ladder_at=TS + 120)
    assert m.ack_url is None and m.ack is None and m.ladder_at is None
    with pytest.raises(AttributeError):
        mine.ack = "another"  # type: ignore[misc]
    sent = json.loads(messages.payload(mine, "k|1"))
    assert sent["ack_url"] == "http://gateway/ack/tok" and sent["ack"] == "tok" and sent["delivery"] == "k|1"
    assert "ladder_at" not in sent and "own" not in sent and "digest" not in sent


def test_a_digest_names_its_alarms_worst_first_and_carries_no_link() -> None:
    a = msgspec.structs.replace(messages.render(transition()), ack_url="http://gateway/ack/a", ack="a")
    b = messages.render(transition("escalated", household="b3-u2-502"))
    merged = messages.digest([a, b])
    assert merged.digest == (a.alarm_id, b.alarm_id) and merged.ack_url is None and merged.ack == "a"
    assert merged.title == "P1 2 alarms" and b.title in merged.body and b.title_zh in merged.body_zh
    carrier = msgspec.structs.replace(merged, own=a)
    sent = json.loads(messages.payload(carrier, "k|1"))
    assert sent["digest"] == [a.alarm_id, b.alarm_id] and "own" not in sent and "ack_url" not in sent


OLD_CARRIER = {  # a digest carrier on a ladder step, as the previous release stored it
    "alarm_id": "t1:CO-1:s-0:1",
    "rule": "CO-1",
    "severity": "P1",
    "transition": "raised",
    "ts": 1718000000.123,
    "site": "t1",
    "building": "b3",
    "household": "b3-u2-501",
    "subject": "s-0",
    "title": "P1 2 alarms",
    "body": "b3: P1 CO high — b3-u2-501; P1 CO high — b3-u2-502",
    "title_zh": "P1 2 条报警",
    "body_zh": "b3 一氧化碳浓度高 2 户",
    "decided_at": 1718000000.5,
    "ack": "tok-1",
    "ladder_at": 1718000120.5,
    "digest": ["t1:CO-1:s-0:1", "t1:CO-1:s-0:2"],
    "ack_url": None,
    "own": {
        "alarm_id": "t1:CO-1:s-0:1",
        "rule": "CO-1",
        "severity": "P1",
        "transition": "raised",
        "ts": 1718000000.123,
        "site": "t1",
        "building": "b3",
        "household": "b3-u2-501",
        "subject": "s-0",
        "title": "P1 CO high — b3-u2-501",
        "body": "Open the windows.",
        "title_zh": "P1 一氧化碳浓度高 — b3-u2-501",
        "body_zh": "开窗通风。",
        "decided_at": 1718000000.5,
        "ack_url": "http://gateway/ack/tok-1",
        "ack": "tok-1",
    },
}


async def test_the_outbox_reads_a_row_the_previous_release_wrote(tmp_path: Path) -> None:
    path = tmp_path / "notify.sqlite3"
    async with OutboxStore(path):
        pass  # the schema, as a gateway that ran before left it
    old = [
        "k-1", "t1:CO-1:s-0:1", "alert", "raised", 1718000000.123, "t1", "b3", "CO-1", "P1", "p-1", "R",
        "bot", "dingtalk://t", 0, "standby", 1718000000.5, 1718000000.5, 0, None, None, None, None, "",
        None, dumps(OLD_CARRIER).decode(),
    ]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute(f"INSERT INTO delivery VALUES ({','.join('?' * len(old))})", old)
    async with OutboxStore(path) as store:
        [d] = await store.open_deliveries()
        m = d.message
        assert isinstance(m, Message) and m.digest == ("t1:CO-1:s-0:1", "t1:CO-1:s-0:2")
        assert m.ladder_at == 1718000120.5 and m.ack_url is None and m.ack == "tok-1"
        assert m.own is not None and m.own.ack_url == "http://gateway/ack/tok-1" and m.own.own is None
        assert m.own.title_zh == "P1 一氧化碳浓度高 — b3-u2-501"
        d.state = "queued"
        await store.save([d])
        [again] = await store.deliveries_of(d.alarm_id)
        assert again.message == m and again.state == "queued"
    with sqlite3.connect(path) as conn:
        [(column,)] = conn.execute("SELECT message FROM delivery").fetchall()
    # still a JSON object in a text column: the previous release reads this release's rows as well
    assert isinstance(column, str)
    assert json.loads(column) == {k: v for k, v in OLD_CARRIER.items() if v is not None}


def test_a_row_from_this_release_is_the_struct_again() -> None:
    m = msgspec.structs.replace(messages.render(transition()), ack_url="http://gateway/ack/x", ack="x")
    d = Delivery(
        key="k-2", alarm_id=m.alarm_id, kind="alert", transition="raised", ts=TS, site="t1", building="b3",
        rule="CO-1", severity="P1", recipient="p-1", audience="R", channel="bot", target="dingtalk://t",
        rank=0, state="queued", next_at=TS, queued_at=TS, message=m,
    )  # fmt: skip
    assert Delivery.from_row(d.row()) == d
