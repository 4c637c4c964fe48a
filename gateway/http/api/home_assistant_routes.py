"""A household's Home Assistant link: enrol (her own broker), see whether it is connected, opt out.

A resident enrols the household she lives in (not one she is only a family contact of: it is that home's
data leaving to that home's server); property staff and admins enrol any household of their site on a
resident's behalf. Everyone else gets 403, and a household outside the caller's scope 404.

The password is write-only: it is sealed before it is stored and no answer ever carries it; leaving it
out of a PUT keeps the one stored. 422 names the field: a host that is no host name, a port out of range,
a discovery prefix that is no MQTT topic level, or the estate's own broker. The routes exist only on a
gateway that runs the Home Assistant bridge (`home_assistant.enabled`); elsewhere they are 404.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, Field, SecretStr, field_validator
from sqlalchemy import select

from gateway.errors import EnrolmentRefused
from gateway.homeassistant.bridge import HomeAssistantBridge
from gateway.http.api.deps import Ctx, Me, not_found, role
from gateway.http.api.models import Out, errors
from gateway.http.api.scope import Caller
from gateway.store.home_links import Enrolment
from gateway.store.schema import Household, Person
from sensors.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["home-assistant"], responses=errors(401, 403, 404, 413))
Id = Annotated[str, Path(pattern=ID_PATTERN)]
ENROLS = ("resident", "property", "admin")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class HomeAssistantIn(BaseModel):
    host: str = Field(max_length=253, description="her broker's host name or address")
    port: int = Field(1883, ge=1, le=65535)
    tls: bool = Field(False, description="TLS to her broker, verified against the system's CAs")
    username: str = Field("", max_length=200)
    password: SecretStr | None = Field(
        None, max_length=200, description="write-only; leave out to keep the one stored"
    )
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix")

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not _HOST.match(v.strip()):
            raise ValueError("not a host name or IP address")
        return v.strip().removeprefix("[").removesuffix("]")  # an IPv6 address as written in a URL

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not _PREFIX.match(v):
            raise ValueError("one MQTT topic level of letters, digits, '_' or '-'")
        return v


class HomeAssistantOut(Out):
    site: str
    household: str
    enrolled: bool
    host: str | None = None
    port: int | None = None
    tls: bool | None = None
    username: str | None = None
    has_password: bool = False
    discovery_prefix: str | None = None
    enrolled_by: str | None = None
    updated: float | None = None
    connected: bool = False
    last_error: str | None = None
    devices: int = 0
    """Devices published to her Home Assistant: her detectors and her unit's doors."""


def _bridge(api: Ctx) -> HomeAssistantBridge:
    if api.home_assistant is None:  # the app includes these routes only with a bridge
        raise not_found("Home Assistant is not enabled on this gateway")
    return api.home_assistant


async def _household(api: Ctx, me: Caller, site: str, household: str) -> None:
    """In the caller's scope, and for a resident one she lives in."""
    async with api.store.session() as session:
        h = await session.get(Household, (site, household))
        if h is None or not me.sees(site, h.building, h.id):
            raise not_found("no such household")
        if me.role == "resident":
            lives = await session.scalar(
                select(Person.id).where(
                    Person.site == site, Person.id == me.person, Person.place == household,
                    Person.role == "resident",
                )
            )  # fmt: skip
            if lives is None:
                raise HTTPException(status_code=403, detail="only a resident of the household enrols it")


def _out(bridge: HomeAssistantBridge, site: str, household: str, e: Enrolment | None) -> HomeAssistantOut:
    st = bridge.status(site, household)
    if e is None:
        return HomeAssistantOut(site=site, household=household, enrolled=False)
    return HomeAssistantOut(
        site=site,
        household=household,
        enrolled=True,
        host=e.host,
        port=e.port,
        tls=e.tls,
        username=e.username,
        has_password=bool(e.password_sealed),
        discovery_prefix=e.discovery_prefix,
        enrolled_by=e.enrolled_by,
        updated=e.updated_ts,
        connected=st.connected,
        last_error=st.last_error,
        devices=st.devices,
    )


PATH = "/sites/{site}/households/{household}/home-assistant"


@router.get(PATH, response_model=HomeAssistantOut, dependencies=[Depends(role(*ENROLS))])
async def home_assistant(api: Ctx, me: Me, site: Id, household: Id) -> HomeAssistantOut:
    """Whether the household is enrolled, where to, and whether the gateway is connected there now."""
    bridge = _bridge(api)
    await _household(api, me, site, household)
    return _out(bridge, site, household, await bridge.table.get(site, household))


@router.put(
    PATH, response_model=HomeAssistantOut, responses=errors(422), dependencies=[Depends(role(*ENROLS))]
)
async def enrol(api: Ctx, me: Me, site: Id, household: Id, body: HomeAssistantIn) -> HomeAssistantOut:
    """Enrol (or change) the household's Home Assistant broker; the gateway connects at once."""
    bridge = _bridge(api)
    await _household(api, me, site, household)
    wanted = Enrolment(
        site=site,
        household=household,
        host=body.host,
        port=body.port,
        tls=body.tls,
        username=body.username,
        discovery_prefix=body.discovery_prefix,
        enrolled_by=me.recipient,
    )
    password = body.password.get_secret_value() if body.password is not None else None
    try:
        kept = await bridge.enrol(wanted, password)
    except EnrolmentRefused as exc:
        raise HTTPException(
            status_code=422, detail=[{"loc": ["body", "host"], "msg": str(exc), "type": "value_error"}]
        ) from exc
    return _out(bridge, site, household, kept)


@router.delete(PATH, status_code=204, dependencies=[Depends(role(*ENROLS))])
async def opt_out(api: Ctx, me: Me, site: Id, household: Id) -> Response:
    """Opt out: her Home Assistant is told to remove the devices, the link and its password are deleted."""
    bridge = _bridge(api)
    await _household(api, me, site, household)
    if not await bridge.withdraw(site, household):
        raise not_found("the household is not enrolled")
    return Response(status_code=204)
