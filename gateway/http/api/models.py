"""The API's response shapes, so the OpenAPI schema says what each answer holds (schemathesis checks it)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageOf(Out, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next: int | None


class TokenPair(Out):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class MeOut(Out):
    username: str
    role: str
    name: str
    language: str
    site: str | None
    person: str | None
    buildings: list[str] | None
    households: list[str] | None
    away: bool | None = None


class SiteOut(Out):
    id: str
    name: str
    timezone: str
    co_profile: str
    phone: str = Field(description="the property desk's phone number; empty when the registry gives none")


class GridOut(Out):
    site: str
    id: str
    name: str
    buildings: list[str]


class BuildingOut(Out):
    site: str
    id: str
    name: str
    grid: str | None
    households: int
    open_alarms: list[int] = Field(description="P1, P2, P3, P4, unacknowledged, welfare checks due")


class StatusOut(Out):
    protected: bool | None
    reason: str
    reason_zh: str = Field(description="the reason in Chinese, as grid officers and property staff read it")
    level: int = Field(description="0 nothing open, 4 a P1 open")
    open_alarms: int


class PersonOut(Out):
    id: str
    role: str
    name: str
    lives_alone: bool
    vulnerable: bool
    away: bool


class LiveOut(Out):
    online: bool | None
    health: str | None
    last_seen_s: float | None
    co_ppm: float | None
    gas_lel: float | None


class DeviceOut(Out):
    site: str
    id: str
    kind: str
    building: str
    unit: str
    household: str
    power: str
    installed: str
    model: str
    live: LiveOut
    battery_pct: float | None = None
    last_reading_ts: float | None = None


class HouseholdOut(Out):
    site: str
    id: str
    building: str
    unit: str
    floor: int | None
    status: StatusOut
    place: str = Field(default="", description="where, as people say it (see AlarmOut.place)")
    place_zh: str = ""
    people: list[PersonOut] | None = None
    devices: list[DeviceOut] | None = None


class AlarmOut(Out):
    alarm_id: str
    site: str
    rule: str
    severity: str
    subject: str
    building: str
    unit: str
    household: str
    state: str
    raised_ts: float
    updated_ts: float
    acked_ts: float | None
    acked_by: str | None
    cleared_ts: float | None
    resolved_ts: float | None
    resolved_by: str | None
    assignee: str | None
    escalation: int
    group: str | None
    planned: list[str] = Field(description="audiences the rules chose to tell (R, EC, GO, PM, MT)")
    notified: list[str] = Field(
        default_factory=list, description="audiences an address accepted a delivery for: who was reached"
    )
    title: str = Field(description="the rule row's title (English)")
    title_zh: str = Field(description="the rule row's title in Chinese")
    action: str = Field(description="what to do first, from the rule row")
    action_zh: str
    family: str = Field(default="", description="the rule row's family (co, gas, health, doors, ...)")
    building_name: str = Field(description="the registry's name of the building; empty where it has none")
    place: str = Field(description='where, as people say it: "Building 3, unit 2, 1504"; ids where unnamed')
    place_zh: str = Field(description="the same in Chinese: 3栋2单元1504")
    acked_by_name: str = Field(description="the registry's name of whoever acknowledged; empty if none")


class HistoryOut(Out):
    ts: float
    kind: str
    by: str
    severity: str
    note: str
    by_name: str = Field(default="", description="the registry's or the account's name of `by`")


class AlarmDetail(AlarmOut):
    history: list[HistoryOut]


class ReadingOut(Out):
    ts: float
    device: str
    co_ppm: float | None
    gas_lel: float | None
    battery_pct: float | None


class ReadingsOut(Out):
    alarm_id: str
    window: list[float] = Field(description="[start, end], UNIX s")
    devices: list[str] = Field(description="the detectors charted")
    readings: list[ReadingOut]
    readings_error: str | None


class TimelineEntryOut(Out):
    recipient: str = Field(description="the registry's person id (maintenance: the audience)")
    recipient_name: str
    audience: str = Field(description="R, EC, GO, PM, MT; - for a broadcast")
    kind: str = Field(description="alert or follow-up")
    transition: str
    channel: str
    address: str = Field(description="the phone number or e-mail masked (138****5678), else the kind")
    state: str = Field(description="standby, queued, sent, delivered, failed, merged, cancelled")
    queued_at: float
    sent_at: float | None
    delivered_at: float | None
    answered_at: float | None = Field(description="a voice call: when someone picked up")
    failed_at: float | None
    acked_at: float | None
    error: str


class TimelineOut(Out):
    alarm_id: str
    items: list[TimelineEntryOut]


class DeliveryOut(Out):
    model_config = ConfigDict(extra="allow")
    recipient: str
    channel: str
    state: str


class EvidenceOut(Out):
    alarm_id: str
    window: list[float]
    readings: list[ReadingOut]
    readings_error: str | None
    deliveries: list[DeliveryOut]
    trigger: list[dict[str, object]]


class DoorEventOut(Out):
    ts: float
    door: str
    building: str
    unit: str
    event: str
    person: str | None
    method: str | None
    direction: str | None


class StaffOut(Out):
    username: str
    name: str
    role: str


class SubscriptionOut(Out):
    id: str
    endpoint_host: str
    created: float
    agent: str


class ShiftOut(Out):
    id: int
    site: str
    role: str = Field(description="officer (a grid's), property (the control room) or maintenance")
    grid: str | None
    person: str
    start: str = Field(description="ISO-8601, the site's local time with its offset")
    end: str
    note: str
    created_by: str
    handed_from: int | None = Field(description="the shift whose rest this is, after a hand-over")


class DutyNowOut(Out):
    role: str
    grid: str | None
    at: str
    rostered: bool = Field(description="false: no shift covers the time, so everyone of it is on duty")
    on_duty: list[str]
    shifts: list[ShiftOut]


class HandOverOut(Out):
    ended: ShiftOut
    started: ShiftOut


class RosterPersonOut(Out):
    role: str
    grid: str | None
    id: str
    name: str


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """The refusals a group of endpoints may answer with, so the schema documents them."""
    why = {
        401: "not signed in, or the token is expired, forged or revoked",
        403: "not for this role, or a notification link that is not valid",
        404: "no such object within the caller's scope",
        409: "the alarm's state does not allow this now",
        413: "request body too large",
        415: "not a type this accepts (a photo: JPEG, PNG or WebP by its bytes)",
        422: "not valid as asked: the detail names the field and why",
        429: "too many sign-ins: wait as Retry-After says",
        503: "a dependency (InfluxDB, the rules, the password checker) is busy or down: see Retry-After",
    }
    return {code: {"model": ErrorOut, "description": why[code]} for code in codes}
