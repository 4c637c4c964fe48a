"""Notification preferences: a person's own (`/me/preferences`, residents in the app, staff in the
console), and anyone's at a site for its property staff and admins.

Saving checks the preference (gateway.preference.check: channels named as the gateway has them, quiet
hours as HH:MM-HH:MM, no P1/P2 in the opt-outs) and answers 422 naming the field; then it is stored and
handed to the running notifier, so the next alarm already follows it. Officers and maintenance edit only
their own: officers see a grid's people but do not manage them, maintenance sees no people at all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field
from sqlalchemy import select

from alerts.rules import RULES
from gateway.errors import PreferenceRefused
from gateway.http.api.context import ApiContext
from gateway.http.api.deps import Ctx, Me, not_found, role
from gateway.http.api.models import Out, errors
from gateway.http.api.scope import Caller
from gateway.preference import Preference, check, optional_rules
from gateway.store.preferences import PreferenceTable
from gateway.store.schema import Person
from sensors.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["preferences"], responses=errors(401, 403, 404, 413))
Id = Annotated[str, Path(pattern=ID_PATTERN)]


class PreferencesIn(BaseModel):
    channels: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=16, description="channel names, best first"
    )
    language: str = Field("zh", max_length=8, description='"zh" or "en": which comes first in the text')
    quiet_hours: str | None = Field(
        None, max_length=11, description="\"22:00-07:00\" in the site's time zone; null: the site's hours"
    )
    opt_out: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=64, description="P3/P4 rule ids or rule families not wanted"
    )


class OptionalRule(Out):
    rule: str
    severity: str
    family: str
    title: str
    title_zh: str


class PreferencesOut(Out):
    site: str
    person: str
    channels: list[str]
    language: str
    quiet_hours: str | None
    opt_out: list[str]
    updated: float | None
    """None: never set; the site's defaults apply."""
    available_channels: list[str]
    """The channels this gateway has that can reach a person, in the order it tries them by default."""
    site_quiet_hours: str | None
    optional: list[OptionalRule]
    """The P3/P4 rules one may opt out of."""


def _channels(api: ApiContext) -> list[str]:
    return api.notifier.personal_channels() if api.notifier is not None else []


def _out(api: ApiContext, p: Preference, stored: bool) -> PreferencesOut:
    site_quiet = api.notifier.settings.quiet_hours if api.notifier is not None else None
    optional = [
        OptionalRule(rule=r, severity=s, family=str(RULES[r].family), title=RULES[r].title,
                     title_zh=RULES[r].title_zh)
        for r, s in optional_rules()
    ]  # fmt: skip
    return PreferencesOut(
        site=p.site,
        person=p.person,
        channels=list(p.channels),
        language=p.language,
        quiet_hours=p.quiet_hours,
        opt_out=list(p.opt_out),
        updated=p.updated if stored else None,
        available_channels=_channels(api),
        site_quiet_hours=site_quiet,
        optional=optional,
    )


async def _read(api: ApiContext, site: str, person: str) -> PreferencesOut:
    stored = await PreferenceTable(api.store).get(site, person)
    return _out(api, stored or Preference(site=site, person=person), stored is not None)


async def _write(api: ApiContext, site: str, person: str, body: PreferencesIn) -> PreferencesOut:
    wanted = Preference(
        site=site,
        person=person,
        channels=tuple(body.channels),
        language=body.language,
        quiet_hours=body.quiet_hours,
        opt_out=tuple(body.opt_out),
        updated=api.clock(),
    )
    try:
        kept = check(wanted, _channels(api))
    except PreferenceRefused as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    await PreferenceTable(api.store).put(kept)
    if api.notifier is not None:
        api.notifier.preferences.put(kept)  # the next alarm follows it; the refresh would in minutes
    return _out(api, kept, True)


def _mine(me: Caller) -> tuple[str, str]:
    if not me.site or not me.person:
        raise not_found("this account names no person to notify")
    return me.site, me.person


@router.get("/me/preferences", response_model=PreferencesOut)
async def my_preferences(api: Ctx, me: Me) -> PreferencesOut:
    """How I want to be told: channels in order, language, quiet hours, the P3/P4 I do not want."""
    return await _read(api, *_mine(me))


@router.put("/me/preferences", response_model=PreferencesOut, responses=errors(422))
async def set_my_preferences(api: Ctx, me: Me, body: PreferencesIn) -> PreferencesOut:
    """Replace my preferences whole. 422: an unknown channel, quiet hours not HH:MM-HH:MM, a P1/P2 rule
    in the opt-outs (those always reach everyone they are for)."""
    return await _write(api, *_mine(me), body)


async def _person_at(api: ApiContext, me: Caller, site: str, person: str) -> None:
    if not me.sees_site(site):
        raise not_found("no such person")
    async with api.store.session() as session:
        found = await session.scalar(select(Person.id).where(Person.site == site, Person.id == person))
    if found is None:
        raise not_found("no such person")


@router.get(
    "/sites/{site}/people/{person}/preferences",
    response_model=PreferencesOut,
    dependencies=[Depends(role("property", "admin"))],
)
async def preferences_of(api: Ctx, me: Me, site: Id, person: Id) -> PreferencesOut:
    """A person's preferences at the caller's site (property staff; admins anywhere)."""
    await _person_at(api, me, site, person)
    return await _read(api, site, person)


@router.put(
    "/sites/{site}/people/{person}/preferences",
    response_model=PreferencesOut,
    responses=errors(422),
    dependencies=[Depends(role("property", "admin"))],
)
async def set_preferences_of(api: Ctx, me: Me, site: Id, person: Id, body: PreferencesIn) -> PreferencesOut:
    """Replace a person's preferences (a resident who asked the office, a colleague's on their behalf)."""
    await _person_at(api, me, site, person)
    return await _write(api, site, person, body)
