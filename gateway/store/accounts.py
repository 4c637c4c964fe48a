"""Accounts: who may sign in, as what, and where (docs/api.md, "Roles and scope").

Passwords are argon2id hashes (pwdlib's recommended parameters); a hash made with older parameters is
replaced on the next successful sign-in. An unknown username costs the same hash as a wrong password, so
sign-in timing does not tell which usernames exist.

An argon2 hash is ~50 ms of CPU and 64 MiB of memory by design. Verified on the event loop it stalls every
other request (three clients signing in in a loop took /healthz's p95 from 7 to 684 ms), so it runs on one
worker thread of its own (argon2 releases the GIL), and at most `HASH_QUEUE` sign-ins wait for it: the rest
are told to come back (`PasswordsBusy`, 503 with Retry-After) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, get_args

from pwdlib import PasswordHash
from sqlalchemy import select

from gateway.errors import AccountError, PasswordsBusy
from gateway.store.db import Store
from gateway.store.schema import Account, Person, Site

Role = Literal["resident", "officer", "property", "maintenance", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
PERSON_ROLES = {"resident": ("resident", "contact"), "officer": ("officer",)}
"""Roles whose scope comes from the person they are: a resident's households, an officer's grids."""

_HASHER = PasswordHash.recommended()
_DUMMY = _HASHER.hash("not a password anyone has")
MIN_PASSWORD = 8
HASH_QUEUE = 8
"""Sign-ins hashing or waiting to; one more is refused with PasswordsBusy."""
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")
_IN_FLIGHT: list[None] = []
"""One entry per sign-in hashing or waiting to (a list, so the count is shared without a global)."""


async def _verify(password: str, stored: str) -> tuple[bool, str | None]:
    if len(_IN_FLIGHT) >= HASH_QUEUE:
        raise PasswordsBusy(f"{len(_IN_FLIGHT)} sign-ins are being checked")
    _IN_FLIGHT.append(None)
    try:
        return await asyncio.get_running_loop().run_in_executor(
            _POOL, _HASHER.verify_and_update, password, stored
        )
    finally:
        _IN_FLIGHT.pop()


async def create_account(
    store: Store,
    username: str,
    password: str,
    role: str,
    *,
    site: str | None = None,
    person: str | None = None,
    name: str = "",
    language: str = "zh",
    now: float,
    replace: bool = False,
) -> Account:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    if role != "admin" and not site:
        raise AccountError(f"a {role} account needs a site")
    if role in PERSON_ROLES and not person:
        raise AccountError(f"a {role} account needs the person it is (--person)")
    async with store.session() as session, session.begin():
        if site and await session.get(Site, site) is None:
            raise AccountError(f"no site {site!r} in the store: import its registry first")
        if person:
            roles = PERSON_ROLES.get(role, (role,))
            found = await session.scalar(
                select(Person.id).where(Person.site == site, Person.id == person, Person.role.in_(roles))
            )
            if found is None:
                raise AccountError(f"no {'/'.join(roles)} {person!r} at site {site!r}")
        account = await session.get(Account, username)
        if account is not None and not replace:
            raise AccountError(f"account {username!r} exists")
        if account is None:
            account = Account(username=username, created=now, token_version=0, disabled=False)
            session.add(account)
        else:
            account.token_version += 1
        account.password_hash = _HASHER.hash(password)
        account.role, account.site, account.person = role, site, person
        account.name, account.language = name, language
    return account


async def authenticate(store: Store, username: str, password: str) -> Account | None:
    """The account when the password is right; None otherwise. Raises PasswordsBusy when too many wait."""
    async with store.session() as session:
        account = await session.get(Account, username)
        stored = _DUMMY if account is None or account.disabled else account.password_hash
    valid, rehashed = await _verify(password, stored)
    if account is None or account.disabled or not valid:
        return None
    if rehashed is not None:
        async with store.session() as session, session.begin():
            fresh = await session.get(Account, username)
            if fresh is not None and fresh.password_hash == stored:
                fresh.password_hash = rehashed
    return account


async def get_account(store: Store, username: str) -> Account | None:
    async with store.session() as session:
        return await session.get(Account, username)


async def bump_version(store: Store, username: str) -> None:
    async with store.session() as session, session.begin():
        account = await session.get(Account, username)
        if account is not None:
            account.token_version += 1
