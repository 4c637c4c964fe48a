"""Accounts: who may sign in, and the staff an alarm can be assigned to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import ConfigError
from gateway.store.schema import Account


async def all_accounts(session: AsyncSession) -> Sequence[Account]:
    return (await session.scalars(select(Account).order_by(Account.username))).all()


async def disable_account(session: AsyncSession, username: str) -> None:
    """Refuse the account's sign-in and revoke its tokens (the token version moves on)."""
    account = await session.get(Account, username)
    if account is None:
        raise ConfigError(f"no account {username!r}")
    account.disabled = True
    account.token_version += 1


async def staff_of(session: AsyncSession, site: str, roles: Iterable[str]) -> Sequence[Account]:
    """The site's enabled staff accounts in these roles, by role and name."""
    q = (
        select(Account)
        .where(Account.site == site, Account.role.in_(sorted(roles)), Account.disabled.is_(False))
        .order_by(Account.role, Account.username)
    )
    return (await session.scalars(q)).all()
