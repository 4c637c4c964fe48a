"""Accounts: who may sign in, as what, and where (docs/api.md, "Roles and scope").

Passwords are argon2id hashes (pwdlib's recommended parameters); a hash made with older parameters is
replaced on the next successful sign-in. An unknown username costs the same hash as a wrong password, so
sign-in timing does not tell which usernames exist.
"""

from __future__ import annotations

from typing import Literal, get_args

from pwdlib import PasswordHash
from sqlalchemy import select

from gateway.errors import GuardianError
from gateway.store.db import Store
from gateway.store.schema import Account, Person, Site

Role = Literal["resident", "officer", "property", "maintenance", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
PERSON_ROLES = {"resident": ("resident", "contact"), "officer": ("officer",)}
"""Roles whose scope comes from the person they are: a resident's households, an officer's grids."""

_HASHER = PasswordHash.recommended()
_DUMMY = _HASHER.hash("not a password anyone has")
MIN_PASSWORD = 8


class AccountError(GuardianError):
    pass


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
    async with store.session() as session, session.begin():
        account = await session.get(Account, username)
        if account is None or account.disabled:
            _HASHER.verify(password, _DUMMY)
            return None
        valid, rehashed = _HASHER.verify_and_update(password, account.password_hash)
        if not valid:
            return None
        if rehashed is not None:
            account.password_hash = rehashed
        return account


async def get_account(store: Store, username: str) -> Account | None:
    async with store.session() as session:
        return await session.get(Account, username)


async def bump_version(store: Store, username: str) -> None:
    async with store.session() as session, session.begin():
        account = await session.get(Account, username)
        if account is not None:
            account.token_version += 1
