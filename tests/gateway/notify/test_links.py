"""Signed links: bound to purpose, alarm and person; forged, expired or misused links are refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.errors import TokenError
from gateway.tokens import Signer
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import rig


def test_a_link_does_only_what_it_was_made_for() -> None:
    signer = Signer(b"0123456789abcdef0123")
    now = time.time()
    token = signer.sign("ack", "p-1", alarm_id="t1:CO-1:s-1:1", expires=now + 60)
    claims = signer.verify(token, "ack", now=now)
    assert (claims.recipient, claims.alarm_id) == ("p-1", "t1:CO-1:s-1:1")
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, "ack", now=now + 61)
    with pytest.raises(TokenError, match="for 'ack'"):
        signer.verify(token, "enroll", now=now)
    _, _, mac = token.partition(".")
    other = Signer(b"another-secret-of-enough-length").sign("ack", "p-2", alarm_id="x", expires=now + 60)
    with pytest.raises(TokenError, match="not valid"):
        signer.verify(other.partition(".")[0] + "." + mac, "ack", now=now)
    with pytest.raises(TokenError):
        signer.verify("garbage", "ack", now=now)
    with pytest.raises(ValueError):
        Signer(b"short")


async def test_enrolment_checks_the_link_and_the_subscription(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx) as r:
            good = rx.phone("phone")
            ack_token = r.notifier.signer.sign("ack", "p-1", alarm_id="a", expires=time.time() + 60)
            enrol_token = r.notifier.signer.sign("enroll", "t1/p-1", expires=time.time() + 60)
            async with r.http() as http:
                res = await http.post(
                    "/api/v1/push/subscriptions", json={"token": ack_token, "subscription": good}
                )
                assert res.status_code == 403, "an acknowledgement link cannot enrol a phone"
                bad_key = {**good, "keys": {**good["keys"], "p256dh": "AAAA"}}
                res = await http.post(
                    "/api/v1/push/subscriptions", json={"token": enrol_token, "subscription": bad_key}
                )
                assert res.status_code == 422 and "p256dh" in res.text
                plain = {**good, "endpoint": "http://push.example.com/x"}
                res = await http.post(
                    "/api/v1/push/subscriptions", json={"token": enrol_token, "subscription": plain}
                )
                assert res.status_code == 422 and "https" in res.text
                # server-side request forgery: the gateway's own network, InfluxDB's port among it
                for endpoint in (
                    "https://127.0.0.1:8086/query?q=CREATE+DATABASE+x",
                    "https://localhost:8086/query",
                    "https://10.0.0.5/x",
                    "https://169.254.169.254/latest/meta-data",
                    "https://[::1]:8086/query",
                    "https://user:pw@fcm.googleapis.com/fcm/send/x",
                    "https://evil.example.com/fcm.googleapis.com/x",
                    f"http://127.0.0.1:{rx.port + 1}/push/other",  # the listed port only
                ):
                    res = await http.post(
                        "/api/v1/push/subscriptions",
                        json={"token": enrol_token, "subscription": {**good, "endpoint": endpoint}},
                    )
                    assert res.status_code == 422, (endpoint, res.text)
                res = await http.post(
                    "/api/v1/push/subscriptions", json={"token": enrol_token, "subscription": good}
                )
                assert res.status_code == 201 and res.json()["person"] == "p-1"
                assert (await http.get("/api/v1/push/key")).json()["publicKey"]
                assert (await http.get("/app/")).status_code == 200
                assert "showNotification" in (await http.get("/app/sw.js")).text
                assert (await http.get("/app/../config.py")).status_code == 404
                res = await http.post("/api/v1/push/receipt", json={"delivery": "nope", "token": ack_token})
                assert res.status_code == 404
            assert [s.person for s in r.notifier.subscriptions.values()] == ["p-1"]


async def test_a_push_service_name_that_resolves_to_a_private_address_is_refused_at_send_time() -> None:
    from gateway.errors import EndpointRefused
    from gateway.notify.endpoints import check_before_send, check_endpoint

    check_endpoint("https://fcm.googleapis.com/fcm/send/abc")  # a real push service passes enrolment
    with pytest.raises(EndpointRefused, match="resolves to"):
        # a push service's name whose DNS answer is loopback, as a hostile record would be
        await check_before_send("https://localhost/fcm/send/abc", known=("localhost",))
