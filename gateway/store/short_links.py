"""Short links in the relational store: a code, the acknowledgement link it stands for, and when that link
expires. The notifier's `ShortLinkStore` (gateway.notify.shortlinks).

The store being away must never hold an SMS: minting then answers None and the SMS carries the gateway's
address instead, where a signed-in person acknowledges.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.store.db import Store
from gateway.store.schema import ShortLink

log = logging.getLogger(__name__)


class ShortLinkTable:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(self, code: str, ref: str, url: str, expires: float) -> str | None:
        """Store `code` for the delivery `ref`, or find the code `ref` already has (the same SMS sent again
        after a restart). None when the store cannot be written, or `code` is taken by another delivery
        (about 2^-59 a draw: the caller draws again)."""
        try:
            async with self.store.session() as session, session.begin():
                session.add(ShortLink(code=code, ref=ref, url=url, expires=expires))
            return code
        except IntegrityError:
            pass
        except (SQLAlchemyError, OSError) as exc:
            log.warning("short link not stored (%s): the SMS carries the gateway's address", exc)
            return None
        try:
            async with self.store.session() as session:
                earlier: str | None = await session.scalar(select(ShortLink.code).where(ShortLink.ref == ref))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("short link not read back (%s)", exc)
            return None
        return earlier

    async def claim_many(self, rows: list[tuple[str, str, str, float]]) -> list[str | None]:
        """`claim` for several (code, ref, url, expires) in one transaction: a storm's SMS share one commit
        instead of queueing for one each. A batch the store refuses as a whole (a code or a reference
        already taken) is claimed row by row."""
        if len(rows) == 1:
            return [await self.claim(*rows[0])]
        try:
            async with self.store.session() as session, session.begin():
                session.add_all(ShortLink(code=c, ref=r, url=u, expires=e) for c, r, u, e in rows)
            return [c for c, _, _, _ in rows]
        except IntegrityError:
            return [await self.claim(*row) for row in rows]
        except (SQLAlchemyError, OSError) as exc:
            log.warning("short links not stored (%s): the SMS carry the gateway's address", exc)
            return [None] * len(rows)

    async def target(self, code: str) -> tuple[str, float] | None:
        """The link a code stands for and when it expires; None for a code never made. One query by the
        primary key either way, so an unknown code and an expired one take the same path here."""
        async with self.store.session() as session:
            query = select(ShortLink.url, ShortLink.expires).where(ShortLink.code == code)
            row = (await session.execute(query)).first()
        return None if row is None else (str(row[0]), float(row[1]))

    async def purge(self, now: float) -> int:
        """Forget codes whose links have expired (an expired code answers like an unknown one anyway)."""
        async with self.store.session() as session, session.begin():
            result = await session.execute(delete(ShortLink).where(ShortLink.expires < now))
        return int(getattr(result, "rowcount", 0) or 0)
