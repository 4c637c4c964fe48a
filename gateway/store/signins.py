"""The sign-in throttle, counted in the store so that every API replica and the gateway share one count.

Sign-ins are counted per username (case folded) and per client address. After too many failures in the
window (5 for a username, 30 for an address, in 15 minutes) sign-in answers 429 until the oldest failure
ages out; and every attempt, right or wrong, is rate-limited too (10 a minute for a username, 120 for an
address), since a correct password costs the same argon2 hash as a wrong one and a client signing in in a
loop would otherwise own the password worker.

A count kept in each process would let an attacker behind a load balancer try N times as many passwords
with N replicas, and forget every failure on a restart. Here each attempt and each failure is a row of
`signin_attempt`; a check is one indexed query for both keys. Bounded: rows older than the window are
deleted as new ones arrive, and rows are only written for attempts that reached the password check, which
the throttle itself and the password worker's capacity limit.
"""

from __future__ import annotations

from sqlalchemy import and_, case, delete, func, or_, select

from gateway.store.db import Store
from gateway.store.schema import SignInAttempt

RATE_WINDOW = 60.0
"""Attempts are counted over a minute."""


class SignInThrottle:
    def __init__(
        self,
        store: Store,
        *,
        per_user: int = 5,
        per_address: int = 30,
        window: float = 900.0,
        per_user_minute: int = 10,
        per_address_minute: int = 120,
    ) -> None:
        self.store = store
        self.limits = {"user": per_user, "address": per_address}
        self.window = window
        self.rates = {"user": per_user_minute, "address": per_address_minute}

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username.lower()[:200]), ("address", address[:200])

    async def wait(self, username: str, address: str, now: float) -> float:
        """Seconds until this sign-in may be tried; 0 when it may be tried now."""
        keys = self._keys(username, address)
        t = SignInAttempt
        failure = and_(t.failed, t.ts > now - self.window)
        attempt = and_(t.failed.is_(False), t.ts > now - RATE_WINDOW)
        query = (
            select(
                t.kind,
                t.key,
                func.sum(case((failure, 1), else_=0)),
                func.min(case((failure, t.ts), else_=None)),
                func.sum(case((attempt, 1), else_=0)),
                func.min(case((attempt, t.ts), else_=None)),
            )
            .where(or_(*(and_(t.kind == k, t.key == v) for k, v in keys)), t.ts > now - self.window)
            .group_by(t.kind, t.key)
        )
        async with self.store.session() as session:
            rows = (await session.execute(query)).all()
        waits = [0.0]
        for kind, _, failures, first_failure, attempts, first_attempt in rows:
            if failures and failures >= self.limits[kind]:
                waits.append(float(first_failure) + self.window - now)
            if attempts and attempts >= self.rates[kind]:
                waits.append(float(first_attempt) + RATE_WINDOW - now)
        return max(waits)

    async def _note(self, username: str, address: str, now: float, *, failed: bool) -> None:
        rows = [SignInAttempt(kind=k, key=v, ts=now, failed=failed) for k, v in self._keys(username, address)]
        async with self.store.session() as session, session.begin():
            session.add_all(rows)
            await session.execute(delete(SignInAttempt).where(SignInAttempt.ts <= now - self.window))

    async def attempted(self, username: str, address: str, now: float) -> None:
        """A sign-in goes to the password check (counted whatever its outcome)."""
        await self._note(username, address, now, failed=False)

    async def failed(self, username: str, address: str, now: float) -> None:
        await self._note(username, address, now, failed=True)

    async def succeeded(self, username: str) -> None:
        """The right password forgives the username's failures (not the address's)."""
        user = self._keys(username, "")[0][1]
        async with self.store.session() as session, session.begin():
            await session.execute(
                delete(SignInAttempt).where(
                    SignInAttempt.kind == "user", SignInAttempt.key == user, SignInAttempt.failed
                )
            )

    async def rows(self) -> int:
        """How many attempts the store holds (the bound the tests check)."""
        async with self.store.session() as session:
            return int(await session.scalar(select(func.count()).select_from(SignInAttempt)) or 0)
