"""Tables of the relational store. Ids are unique within a site, so every registry table keys on (site, id).

Migrations in `migrations/versions` create these tables; a test checks the two agree. Times are UNIX seconds
as floats, the unit everything else in the gateway speaks; JSON columns hold small lists (notification
targets, evidence), never anything a query filters on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = 64


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Meta(Base):
    """Small facts about the store itself (the registry file's digest last imported, per site)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Site(Base):
    __tablename__ = "site"
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    co_profile: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(32), default="", server_default="")


class Grid(Base):
    __tablename__ = "grid"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")


class Building(Base):
    __tablename__ = "building"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    grid: Mapped[str | None] = mapped_column(String(ID))


class Household(Base):
    __tablename__ = "household"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    building: Mapped[str] = mapped_column(String(ID))
    unit: Mapped[str] = mapped_column(String(ID))
    floor: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (Index("household_building", "site", "building"),)


class Device(Base):
    """Detectors and door controllers; `household` is empty for doors, which belong to a unit."""

    __tablename__ = "device"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    building: Mapped[str] = mapped_column(String(ID))
    unit: Mapped[str] = mapped_column(String(ID))
    household: Mapped[str] = mapped_column(String(ID), default="")
    power: Mapped[str] = mapped_column(String(16), default="")
    installed: Mapped[str] = mapped_column(String(10), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (
        Index("device_household", "site", "household"),
        Index("device_building", "site", "building"),
    )


class Person(Base):
    """Anyone the registry names: residents and family contacts of a household, a grid's officers, the
    site's property and maintenance staff. `place` is the household (residents, contacts) or grid
    (officers) they belong to, empty for site staff: the same contact may serve two households."""

    __tablename__ = "person"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    place: Mapped[str] = mapped_column(String(ID), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    vulnerable: Mapped[bool] = mapped_column(Boolean, default=False)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    away_set_ts: Mapped[float | None] = mapped_column(Float)
    """When the resident last flipped "I'm away" in the app; from then on their word beats the registry's."""
    notify: Mapped[list[Any]] = mapped_column(default=list)
    __table_args__ = (Index("person_id", "site", "id"),)


class Account(Base):
    """A sign-in. `role` decides the scope; `site` and `person` place it (admin: neither)."""

    __tablename__ = "account"
    username: Mapped[str] = mapped_column(String(ID), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    site: Mapped[str | None] = mapped_column(String(ID))
    person: Mapped[str | None] = mapped_column(String(ID))
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="zh")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped on sign-out everywhere and password change: refresh tokens of older versions stop working."""
    created: Mapped[float] = mapped_column(Float)


class PushSubscription(Base):
    """A phone's Web Push subscription for one person (the resident app registers it)."""

    __tablename__ = "push_subscription"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site: Mapped[str] = mapped_column(String(ID))
    person: Mapped[str] = mapped_column(String(ID))
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created: Mapped[float] = mapped_column(Float)
    agent: Mapped[str] = mapped_column(String(300), default="")
    __table_args__ = (Index("push_subscription_person", "site", "person"),)


class Alarm(Base):
    """An alarm's current state as people work it: the engine's transitions, plus assignment and
    resolution, which only people do."""

    __tablename__ = "alarm"
    alarm_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    site: Mapped[str] = mapped_column(String(ID))
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(4))
    subject: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(ID), default="")
    unit: Mapped[str] = mapped_column(String(ID), default="")
    household: Mapped[str] = mapped_column(String(ID), default="")
    state: Mapped[str] = mapped_column(String(16))
    raised_ts: Mapped[float] = mapped_column(Float)
    updated_ts: Mapped[float] = mapped_column(Float)
    acked_ts: Mapped[float | None] = mapped_column(Float)
    acked_by: Mapped[str | None] = mapped_column(String(200))
    cleared_ts: Mapped[float | None] = mapped_column(Float)
    resolved_ts: Mapped[float | None] = mapped_column(Float)
    resolved_by: Mapped[str | None] = mapped_column(String(ID))
    assignee: Mapped[str | None] = mapped_column(String(ID))
    escalation: Mapped[int] = mapped_column(Integer, default=0)
    group_id: Mapped[str | None] = mapped_column(String(300))
    notified: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    __table_args__ = (
        Index("alarm_site_state", "site", "state", "severity", "raised_ts"),
        Index("alarm_site_household", "site", "household"),
        Index("alarm_site_building", "site", "building"),
        Index("alarm_raised", "raised_ts"),
    )


class AlarmEvent(Base):
    """An alarm's history: engine transitions and what people did. A transition re-emitted after a
    restart has the same (alarm, kind, time, by) and is kept once."""

    __tablename__ = "alarm_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[str] = mapped_column(String(300), index=True)
    ts: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[str] = mapped_column(String(4), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("alarm_id", "kind", "ts", "by", name="alarm_event_once"),)


class ShortLink(Base):
    """A short code standing for a long acknowledgement link, for an SMS whose template variable takes 35
    characters. `ref` is the delivery's provider reference: a resent SMS reuses its code. Kept until the
    link it stands for expires."""

    __tablename__ = "short_link"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    expires: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        UniqueConstraint("ref", name="short_link_ref"),
        Index("short_link_expires", "expires"),
    )


class DutyShift(Base):
    """A stretch of time one person covers a duty: a grid's officers (`role` officer, `place` the grid) or a
    site desk (`role` property or maintenance, `place` empty), the same (role, place) a `person` row has.
    Escalation goes to whoever's shift covers the alarm's time. A hand-over ends a shift early and starts
    its rest for someone else; the new row names the one it came from."""

    __tablename__ = "duty_shift"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(ID))
    role: Mapped[str] = mapped_column(String(16))
    place: Mapped[str] = mapped_column(String(ID), default="")
    person: Mapped[str] = mapped_column(String(ID))
    start_ts: Mapped[float] = mapped_column(Float)
    end_ts: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_ts: Mapped[float] = mapped_column(Float)
    handed_from: Mapped[int | None] = mapped_column(Integer)
    """The shift whose rest this one is (a hand-over), or None."""
    __table_args__ = (
        Index("duty_shift_duty", "site", "role", "place", "start_ts"),
        Index("duty_shift_person", "site", "person", "start_ts"),
        Index("duty_shift_end", "end_ts"),
    )


class Preference(Base):
    """A person's notification preferences (gateway.preference): channels in their order, language, their
    own quiet hours (None: the site's) and the P3/P4 rules or families they opted out of. No row: the
    site's defaults. The notifier holds every row in memory; nothing reads this table per alarm."""

    __tablename__ = "preference"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    person: Mapped[str] = mapped_column(String(ID), primary_key=True)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    opt_out: Mapped[list[Any]] = mapped_column(default=list)
    updated: Mapped[float] = mapped_column(Float)


class WorkOrder(Base):
    """A job someone must do in a home or a building (`gateway.store.order_flow` says its life). The two due
    times are moved on by the time spent on hold; `held_since` is when the current hold began."""

    __tablename__ = "work_order"
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    site: Mapped[str] = mapped_column(String(ID))
    building: Mapped[str] = mapped_column(String(ID), default="")
    unit: Mapped[str] = mapped_column(String(ID), default="")
    household: Mapped[str] = mapped_column(String(ID), default="")
    device: Mapped[str] = mapped_column(String(ID), default="")
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))
    requester: Mapped[str] = mapped_column(String(200))
    """Who asked, as the notifier names recipients (`site/person`, or `account:name` for an account)."""
    requester_account: Mapped[str] = mapped_column(String(200))
    assignee: Mapped[str] = mapped_column(String(200), default="")
    """A team (`property`, `maintenance`, `grid`, a site's team) until claimed, then the claimer's account."""
    team: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """Whom it was last dispatched to (a team, or a person dispatched by name), kept through the claim: the
    board's and the daily report's times by team."""
    alarm_ids: Mapped[list[Any]] = mapped_column(default=list)
    cause: Mapped[str] = mapped_column(String(200), default="")
    """`rule:subject` for an order an alarm opened (`HLT-3:s-00001`): one open order per device and cause,
    however often the alarm comes back. Empty for an order a person filed."""
    created_ts: Mapped[float] = mapped_column(Float)
    updated_ts: Mapped[float] = mapped_column(Float)
    claim_due_ts: Mapped[float] = mapped_column(Float)
    resolve_due_ts: Mapped[float] = mapped_column(Float)
    claimed_ts: Mapped[float | None] = mapped_column(Float)
    resolved_ts: Mapped[float | None] = mapped_column(Float)
    held_since: Mapped[float | None] = mapped_column(Float)
    held_s: Mapped[float] = mapped_column(Float, default=0.0)
    resolution: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        Index("work_order_state", "site", "state"),
        Index("work_order_household", "site", "household"),
        Index("work_order_building", "site", "building"),
        Index("work_order_cause", "site", "cause"),
    )


class WorkOrderEvent(Base):
    """Every change to an order, appended and never updated: who, from, to, when, why."""

    __tablename__ = "work_order_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(ID))
    ts: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (Index("work_order_event_order", "order_id", "id"),)


class SignInAttempt(Base):
    """One sign-in counted against a username or a client address (`kind` user | address): every attempt
    (`failed` false, counted over a minute) and every failure (`failed` true, over the throttle's window).
    In the store rather than in a process, so every API replica and the gateway share one count; rows
    older than the window are deleted as new ones arrive."""

    __tablename__ = "signin_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(200))
    ts: Mapped[float] = mapped_column(Float)
    failed: Mapped[bool] = mapped_column(Boolean)
    __table_args__ = (
        Index("signin_attempt_key", "kind", "key", "ts"),
        Index("signin_attempt_ts", "ts"),
    )


class HomeAssistantLink(Base):
    """A household's opt-in to Home Assistant (gateway.homeassistant): the resident's own broker the
    gateway connects out to. The password is sealed (AES-GCM, the key in the outbox's secrets): the store
    never holds it in the clear, and the API never gives it back."""

    __tablename__ = "home_assistant_link"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    household: Mapped[str] = mapped_column(String(ID), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    tls: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str] = mapped_column(String(200), default="")
    password_sealed: Mapped[str] = mapped_column(Text, default="")
    """base64 of nonce + AES-GCM ciphertext; empty: no password."""
    discovery_prefix: Mapped[str] = mapped_column(String(64), default="homeassistant")
    enrolled_by: Mapped[str] = mapped_column(String(200))
    """Who enrolled it (the notifier's recipient form): the button's acknowledgements are in their name."""
    updated_ts: Mapped[float] = mapped_column(Float)


class OutboxDelivery(Base):
    """The notifier's outbox in the relational store, for a district whose partition owners come and go
    (`gateway.district.outbox`): a row per (alarm transition, recipient, channel), keyed by the delivery's
    idempotency key, with the partition whose owner sends it. The columns are the single box's outbox's."""

    __tablename__ = "outbox_delivery"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer)
    alarm_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    transition: Mapped[str] = mapped_column(String(16))
    ts: Mapped[float] = mapped_column(Float)
    site: Mapped[str] = mapped_column(String(ID))
    building: Mapped[str] = mapped_column(String(ID))
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(4))
    recipient: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(Text)
    rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    next_at: Mapped[float] = mapped_column(Float)
    queued_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[float | None] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float)
    failed_at: Mapped[float | None] = mapped_column(Float)
    acked_at: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str] = mapped_column(Text)
    merged_into: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        Index("outbox_delivery_open", "partition", "state"),
        Index("outbox_delivery_alarm", "alarm_id"),
        Index("outbox_delivery_sent", "sent_at"),
    )


class OutboxFence(Base):
    """The newest lease revision (`gateway.district.lease`) that wrote a partition's outbox rows or alarms:
    a write carrying an older one is refused, so an owner frozen past its lease cannot write once the next
    owner has."""

    __tablename__ = "outbox_fence"
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(200))
    at: Mapped[float] = mapped_column(Float)


class NotifySecret(Base):
    """Keys every instance of a district must share (the link-signing secret, the VAPID key): made by the
    first instance that needs one, read by the others."""

    __tablename__ = "notify_secret"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class Team(Base):
    """A site's named crew (its registry's `teams`): orders dispatched to it wait in its pool until one of
    its members claims them. `members` are staff person ids; an account is a member through its person."""

    __tablename__ = "team"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    members: Mapped[list[Any]] = mapped_column(default=list)


class DispatchRule(Base):
    """One row of a site's registry `dispatch`: which team a category's orders go to, for a building, a
    grid or the whole site (empty strings: any). `position` keeps the file's order."""

    __tablename__ = "dispatch_rule"
    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), default="")
    building: Mapped[str] = mapped_column(String(ID), default="")
    grid: Mapped[str] = mapped_column(String(ID), default="")
    team: Mapped[str] = mapped_column(String(ID))


class WorkOrderPhoto(Base):
    """A photo on a work order: the bytes in a file of a random name under the data folder, checked by
    their magic bytes when uploaded; this row says whose order it is, what it is and who sent it."""

    __tablename__ = "work_order_photo"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(ID))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    ts: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("work_order_photo_order", "order_id", "ts"),)
