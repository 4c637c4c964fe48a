"""A delivery's address as the control room may see it: enough to tell two phones of one person apart
(138****5678), never enough to call it. Credentials in a channel URL never leave the gateway."""

from __future__ import annotations

import re

_PHONE = re.compile(r"\+?\d[\d -]{5,18}\d")
_MAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")


def masked_phone(number: str) -> str:
    """+8613812345678 -> +86 138****5678; a short number keeps its last two digits only."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 7:
        return "*" * (len(digits) - 2) + digits[-2:]
    prefix = ""
    if number.startswith("+") and len(digits) > 11:
        prefix, digits = "+" + digits[: len(digits) - 11] + " ", digits[-11:]
    return prefix + digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
NOT_PEOPLE = frozenset({"http", "https", "json", "jsons", "xml", "form", "mqtt", "mqtts", "ws", "wss"})
"""Schemes of machine endpoints (webhooks, topics): a number in them is an id or a port, not a phone."""


def masked_address(target: str) -> str:
    """The phone numbers and e-mail address in a delivery's target, masked; otherwise only its kind (the
    URL scheme of a webhook, nothing for a push subscription or a topic), never a token or credentials."""
    if target.startswith("mailto:"):
        return " ".join(f"{m.group(1)}***@{m.group(2)}" for m in _MAIL.finditer(target))
    scheme = _SCHEME.match(target)
    if scheme is None:  # a bare number, or a channel's own key (a push subscription, an MQTT topic)
        return masked_phone(target) if _PHONE.fullmatch(target) else ""
    if scheme.group(1).lower() in NOT_PEOPLE:
        return scheme.group(1)
    found = [masked_phone(m.group(0)) for m in _PHONE.finditer(target.split("?", 1)[0])]
    return " ".join(dict.fromkeys(found)) or scheme.group(1)
