"""FastAPI dependencies: the signed-in caller, role checks, paging."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import TokenError
from gateway.http.api.context import ApiContext
from gateway.http.api.scope import Caller, resolve
from gateway.store.accounts import get_account

log = logging.getLogger(__name__)
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def ctx(request: Request) -> ApiContext:
    api: ApiContext = request.app.state.api
    return api


Ctx = Annotated[ApiContext, Depends(ctx)]


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def still_valid(api: ApiContext, token: str) -> bool:
    """Whether a token accepted earlier still stands: not expired, the account enabled and unchanged.
    A long-lived response (the alarm stream) asks this every few seconds."""
    try:
        claims = api.tokens.verify(token, "access")
    except TokenError:
        return False
    account = await get_account(api.store, claims.username)
    return not (
        account is None
        or account.disabled
        or account.role != claims.role
        or account.token_version != claims.version
    )


async def caller(api: Ctx, token: Annotated[str | None, Depends(bearer)]) -> Caller:
    if not token:
        raise unauthorised("sign in first")
    try:
        claims = api.tokens.verify(token, "access")
    except TokenError as exc:
        log.info("API token refused: %s", exc)
        raise unauthorised(str(exc)) from exc
    account = await get_account(api.store, claims.username)
    if (
        account is None
        or account.disabled
        or account.role != claims.role
        or account.token_version != claims.version  # a new password or "sign out everywhere"
    ):
        raise unauthorised("account disabled or changed; sign in again")
    return await resolve(api.store, account)


Me = Annotated[Caller, Depends(caller)]


def role(*allowed: str) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    async def check(who: Me) -> Caller:
        if who.role not in allowed:
            raise HTTPException(status_code=403, detail=f"not for the {who.role} role")
        return who

    return check


def not_found(what: str = "not found") -> HTTPException:
    """Outside the caller's scope and absent look the same."""
    return HTTPException(status_code=404, detail=what)


class Paging(BaseModel):
    limit: int
    offset: int


def paging(
    api: Ctx,
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Paging:
    return Paging(limit=min(limit, api.page_max), offset=offset)


Page = Annotated[Paging, Depends(paging)]


async def paged(session: AsyncSession, q: Select[Any], p: Paging, *order: Any) -> tuple[list[Any], int]:
    """One page of a query's rows, and how many rows the whole query has."""
    total = int(await session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = (await session.scalars(q.order_by(*order).limit(p.limit).offset(p.offset))).all()
    return list(rows), total


def page_of(items: list[Any], p: Paging) -> dict[str, Any]:
    """A page of a list already in memory (sites, grids, buildings, staff: tens, not thousands)."""
    return page(items[p.offset : p.offset + p.limit], len(items), p)


def page(items: list[Any], total: int, p: Paging) -> dict[str, Any]:
    nxt = p.offset + len(items)
    return {
        "items": items,
        "total": total,
        "limit": p.limit,
        "offset": p.offset,
        "next": nxt if nxt < total else None,
    }
