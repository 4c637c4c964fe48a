"""What the alarm timeline shows of an address: phones and e-mail masked, machine endpoints by kind only."""

from __future__ import annotations

import pytest

from gateway.notify.masking import masked_address, masked_phone


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("aliyun-sms://+8613812345678", "+86 138****5678"),
        ("aliyun-voice://13812345678", "138****5678"),
        ("tel:13812345678", "138****5678"),
        ("13812345678", "138****5678"),
        ("sms://AKID:s3cret@13800001111,13900002222", "138****1111 139****2222"),
        ("mailto:zhao@example.org", "z***@example.org"),
        ("json://127.0.0.1:9000/pm", "json"),
        ("https://hooks.example/T0123456789/B0123456789", "https"),
        ("guardian/t1/alarm/t1:GAS-2:s-00003:1796325860102", ""),  # an MQTT topic: the alarm's timestamp
        ("3f2a9b0c3f2a9b0c3f2a9b0c3f2a9b0c", ""),  # a push subscription's id
    ],
)
def test_addresses_are_masked(target: str, shown: str) -> None:
    assert masked_address(target) == shown
    assert "s3cret" not in masked_address(target) and "AKID" not in masked_address(target)


def test_a_masked_phone_keeps_only_what_tells_two_apart() -> None:
    assert masked_phone("+86 138-1234-5678") == "+86 138****5678"
    assert masked_phone("12345") == "***45"
