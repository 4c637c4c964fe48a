"""What a JPush push says and how each phone maker is asked to treat it: the request body of
`POST /v3/push`, a pure function of the settings, the delivery and its message. The JPush channel
(`jpush.py`) sends it; this file decides what the phone shows and how loudly.

What the maker's channel does with a message depends on how the message is classified, and each maker asks
in its own words (JPush REST API v3 `options`, its `third_party_channel` table, JPush's 厂商消息分类使用指南):
`options.classification = 1` (system message; JPush says it overrides the vendors' own fields and decides
whether a vendor quota is charged), Xiaomi's `channel_id` of a 私信 channel registered with Xiaomi, Huawei's
`importance` NORMAL with a service-and-communication `category` (self-classification must be granted by
Huawei; without it Huawei files everything as marketing, shown silently), Honor's `importance` NORMAL,
OPPO's registered `channel_id` with `category` and `notify_level` (16: banner, lock screen, sound and
vibration; OPPO requires `category` with it), vivo's `classification` 1 and `category`. Channel ids are
created in the makers' consoles (and in the app, for Android's own NotificationChannel), so they are
settings, per severity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gateway.config.providers import JPushSettings
from gateway.notify import messages
from gateway.notify.channels.base import delivery_ref
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

TIME_TO_LIVE = {"P1": 3600, "P2": 3600, "P3": 6 * 3600, "P4": 24 * 3600}
"""Seconds JPush keeps a message for a phone that is offline (its default is a day, at most 3 days, 10 for
VIP apps): an hour-old P1 is still worth seeing, and its reminders follow while it stays open."""
PRIORITY = {"P1": 2, "P2": 2, "P3": 1, "P4": 0}
"""`notification.android.priority` (-2..2): 0..2 go to FCM as high, and Huawei's local importance follows."""
NOTIFY_LEVEL = {"P1": 16, "P2": 16, "P3": 2, "P4": 2}
"""OPPO's `notify_level`: 16 notification bar + lock screen + banner + vibration + ring, 2 bar + lock screen
(both only for OPPO's service-and-communication messages)."""
IOS_LEVEL = {"P1": "time-sensitive", "P2": "time-sensitive", "P3": "active", "P4": "active"}
"""iOS 15 `interruption-level` (JPush passes `notification.ios.interruption-level` to APNs). Time-sensitive
breaks through Focus; `critical` also through the mute switch, for apps Apple granted Critical Alerts."""

SYSTEM_MESSAGE = 1
"""`options.classification`: 0 operations (marketing), 1 system message. An alarm gateway sends only the
latter: device alarms, their acknowledgement and clearing."""
TITLE_BYTES = 200
ALERT_BYTES = 1000
IOS_BYTES = 2000
"""JPush refuses an `ios` object over 2,000 bytes (error 1005: APNs takes 2,048 and JPush repacks it)."""


def by_severity(table: Mapping[str, Any], severity: str) -> Any:
    return table.get(severity, table.get("*"))


def cut(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut at a character and marked."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: max(0, limit - 3)].decode(errors="ignore") + "…"


def time_to_live(settings: JPushSettings, severity: str) -> int:
    """Seconds JPush keeps the message for an offline phone (0: only a phone online now gets it)."""
    ttl = by_severity(settings.time_to_live, severity)
    return int(ttl) if ttl is not None else TIME_TO_LIVE.get(severity, 3600)


def push_body(
    settings: JPushSettings, d: Delivery, message: Message, rid: str, cid: str | None
) -> dict[str, Any]:
    """The push JPush takes: one registration id, a notification per platform, the vendors' fields."""
    s = settings
    severity = d.severity
    (title_1, body_1), (title_2, body_2) = messages.ordered(message)
    title = cut(title_1 or title_2, TITLE_BYTES)
    lines = [body_1, title_2, body_2]
    alert = cut("\n".join(x for x in lines if x) or title, ALERT_BYTES)
    extras = {
        "url": message.ack_url or "",
        "alarm_id": d.alarm_id,
        "severity": severity,
        "transition": d.transition,
        "delivery": delivery_ref(d.key),
    }
    notification: dict[str, Any] = {}
    if "android" in s.platforms:
        android: dict[str, Any] = {
            "alert": alert,
            "title": title,
            "priority": PRIORITY.get(severity, 0),
            "category": s.android_category,
            "intent": {"url": s.android_intent},
            "extras": extras,
        }
        channel_id = by_severity(s.android_channel_ids, severity)
        if channel_id:
            android["channel_id"] = channel_id
        notification["android"] = android
    if "ios" in s.platforms:
        notification["ios"] = ios(s, d, title, alert, extras)
    if "hmos" in s.platforms:
        notification["hmos"] = {
            "alert": alert,
            "title": title,
            "category": s.huawei_category,
            "intent": {"url": "action.system.home"},
            "badge_add_num": 1,
            "extras": extras,
        }
    options: dict[str, Any] = {
        "time_to_live": time_to_live(s, severity),
        "apns_production": s.apns_production,
        "classification": SYSTEM_MESSAGE,
        "third_party_channel": vendors(s, severity, title, alert),
    }
    if "ios" in s.platforms:
        # one notification per alarm on an iPhone: later transitions replace the earlier one
        options["apns_collapse_id"] = hashlib.sha256(d.alarm_id.encode()).hexdigest()[:32]
    body: dict[str, Any] = {
        "platform": list(s.platforms),
        "audience": {"registration_id": [rid]},
        "notification": notification,
        "options": options,
    }
    if cid is not None:
        body["cid"] = cid
    return body


def ios(
    settings: JPushSettings, d: Delivery, title: str, alert: str, extras: dict[str, Any]
) -> dict[str, Any]:
    """`notification.ios`: a P1 is a critical alert where Apple granted those; the body cut to fit JPush."""
    critical = d.severity == "P1" and settings.ios_critical_alerts
    out: dict[str, Any] = {
        "alert": {"title": title, "body": alert},
        "sound": {"critical": 1, "name": "default", "volume": 1.0} if critical else "default",
        "badge": "+1",
        "thread-id": d.alarm_id[:64],
        "interruption-level": "critical" if critical else IOS_LEVEL.get(d.severity, "active"),
        # lets the app's notification service extension report arrival (the Report API's
        # ios_apns_received): without it an iPhone's push is never more than sent
        "mutable-content": True,
        "extras": extras,
    }
    over = len(json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()) - IOS_BYTES
    if over > 0:
        out["alert"]["body"] = cut(alert, max(0, len(alert.encode()) - over - 8))
    return out


def vendors(settings: JPushSettings, severity: str, title: str, alert: str) -> dict[str, Any]:
    """`options.third_party_channel`: the fields that make each maker file the message as a system /
    service-and-communication one (ringing, on the lock screen, not counted in a marketing quota)."""
    s = settings
    xiaomi: dict[str, Any] = {}
    if channel_id := by_severity(s.xiaomi_channel_ids, severity):
        xiaomi["channel_id"] = channel_id
    if s.xiaomi_template_id:
        xiaomi["mi_template_id"] = s.xiaomi_template_id
        xiaomi["mi_template_param"] = json.dumps(
            {"title": title, "content": alert}, ensure_ascii=False, separators=(",", ":")
        )
    oppo: dict[str, Any] = {"category": s.oppo_category, "notify_level": NOTIFY_LEVEL.get(severity, 2)}
    if channel_id := by_severity(s.oppo_channel_ids, severity):
        oppo["channel_id"] = channel_id
    out: dict[str, Any] = {
        "huawei": {"importance": s.huawei_importance, "category": s.huawei_category},
        "honor": {"importance": s.honor_importance},
        "oppo": oppo,
        "vivo": {"classification": SYSTEM_MESSAGE, "category": s.vivo_category},
    }
    if xiaomi:
        out["xiaomi"] = xiaomi
    return out
