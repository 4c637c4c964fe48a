"""Sign-in (OAuth2 password flow), refresh, sign-out everywhere, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import select

from gateway.errors import PasswordsBusy, TokenError
from gateway.http.api.deps import Ctx, Me, unauthorised
from gateway.http.api.models import MeOut, TokenPair, errors
from gateway.store.accounts import authenticate, bump_version, get_account
from gateway.store.schema import Account, Person

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=errors(401, 413))


class Refresh(BaseModel):
    refresh_token: str = Field(max_length=4000)


def _pair(api: Ctx, account: Account) -> TokenPair:
    access, access_ttl = api.tokens.issue(account.username, account.role, account.token_version, "access")
    refresh, refresh_ttl = api.tokens.issue(account.username, account.role, account.token_version, "refresh")
    return TokenPair(
        access_token=access,
        expires_in=int(access_ttl),
        refresh_token=refresh,
        refresh_expires_in=int(refresh_ttl),
    )


@router.post("/auth/token", response_model=TokenPair, responses=errors(429, 503))
async def sign_in(
    api: Ctx, request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenPair:
    """Username and password for an access token (15 min) and a refresh token (14 days). Five wrong
    passwords for one username (or thirty from one address) in 15 minutes, or more than 10 sign-ins a
    minute for one username (120 from one address): 429 until the oldest ages out. 503 with Retry-After
    while the password checker is full."""
    if len(form.username) > 64 or len(form.password) > 1024:
        raise HTTPException(status_code=422, detail="username or password too long")
    address = request.client.host if request.client else ""
    now = api.clock()
    throttle = api.signins
    wait = await throttle.wait(form.username, address, now)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"too many sign-ins; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    await throttle.attempted(form.username, address, now)
    try:
        account = await authenticate(api.store, form.username, form.password)
    except PasswordsBusy as exc:
        raise HTTPException(
            status_code=503, detail=f"sign-in is busy ({exc}); try again", headers={"Retry-After": "1"}
        ) from exc
    if account is None:
        await throttle.failed(form.username, address, now)
        raise unauthorised("wrong username or password")
    await throttle.succeeded(form.username)
    return _pair(api, account)


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(api: Ctx, body: Refresh) -> TokenPair:
    try:
        claims = api.tokens.verify(body.refresh_token, "refresh")
    except TokenError as exc:
        raise unauthorised(str(exc)) from exc
    account = await get_account(api.store, claims.username)
    if account is None or account.disabled or account.token_version != claims.version:
        raise unauthorised("refresh token revoked; sign in again")
    return _pair(api, account)


@router.post("/auth/logout", status_code=204)
async def sign_out_everywhere(api: Ctx, me: Me) -> Response:
    """Every refresh token of this account stops working (access tokens run out within minutes)."""
    await bump_version(api.store, me.username)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, tags=["me"])
async def whoami(api: Ctx, me: Me) -> MeOut:
    away = None
    if me.role == "resident" and me.site and me.person:
        async with api.store.session() as session:
            flags = (
                await session.scalars(
                    select(Person.away).where(
                        Person.site == me.site, Person.id == me.person, Person.role == "resident"
                    )
                )
            ).all()
            away = any(flags) if flags else None
    return MeOut(**me.public(), away=away)
