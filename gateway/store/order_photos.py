"""Photos on work orders: a resident shows the broken detector, a fitter the job done.

The bytes go in a file of a random name under the data folder, never a name anyone sent; what a photo is
comes from its first bytes (JPEG, PNG or WebP), not from the client's content type, so a page or a script
uploaded as `image/png` is refused with 415 and nothing is kept. An order holds a few photos of a bounded
size. Rows (`WorkOrderPhoto`) say whose order, what type, how big, its SHA-256 and who sent it; an event on
the order's timeline records each upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from gateway.errors import OrderRefused
from gateway.store.db import Store
from gateway.store.schema import WorkOrder, WorkOrderEvent, WorkOrderPhoto

TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
CLOSED = frozenset({"closed", "cancelled"})
"""An order past these takes no more photos."""


def sniff(data: bytes) -> str | None:
    """The image type its magic bytes say (JPEG SOI marker, PNG signature, a RIFF file of form WEBP)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True, slots=True)
class PhotoShelf:
    folder: Path
    max_bytes: int = 5 << 20
    per_order: int = 6

    def path(self, photo: WorkOrderPhoto) -> Path:
        return self.folder / f"{photo.id}{TYPES[photo.content_type]}"

    async def add(
        self, store: Store, order: WorkOrder, data: bytes, *, by: str, now: float
    ) -> WorkOrderPhoto:
        """Checked, written, recorded; any refusal leaves nothing behind."""
        if order.state in CLOSED:
            raise OrderRefused(409, f"the order is {order.state}: it takes no more photos")
        if not data:
            raise OrderRefused(422, "photo: the body is empty (send the image's bytes)")
        if len(data) > self.max_bytes:
            raise OrderRefused(413, f"photo: over {self.max_bytes} bytes")
        kind = sniff(data)
        if kind is None:
            raise OrderRefused(415, "photo: not a JPEG, PNG or WebP image")
        photo = WorkOrderPhoto(
            id=secrets.token_hex(16), order_id=order.id, content_type=kind, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), uploaded_by=by, ts=now,
        )  # fmt: skip
        async with store.session() as s:
            held = await s.scalar(
                select(func.count()).select_from(WorkOrderPhoto).where(WorkOrderPhoto.order_id == order.id)
            )
        if (held or 0) >= self.per_order:
            raise OrderRefused(422, f"photo: an order holds at most {self.per_order} photos")
        target = self.path(photo)
        await asyncio.to_thread(_write, target, data)
        try:
            async with store.session() as s, s.begin():
                s.add(photo)
                data_ = {"photo": photo.id, "type": kind, "size": len(data)}
                s.add(
                    WorkOrderEvent(
                        order_id=order.id, ts=now, actor=by, action="photo", from_state=order.state,
                        to_state=order.state, note="", data=data_,
                    )
                )  # fmt: skip
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink()
            raise
        return photo

    async def of(self, store: Store, order_id: str) -> list[WorkOrderPhoto]:
        async with store.session() as s:
            q = select(WorkOrderPhoto).where(WorkOrderPhoto.order_id == order_id).order_by(WorkOrderPhoto.ts)
            return list((await s.scalars(q)).all())

    async def one(self, store: Store, order_id: str, photo_id: str) -> WorkOrderPhoto:
        async with store.session() as s:
            photo = await s.get(WorkOrderPhoto, photo_id)
        if photo is None or photo.order_id != order_id:
            raise OrderRefused(404, "no such photo")
        return photo


def _write(target: Path, data: bytes) -> None:
    """Whole or not at all: a temporary name, flushed, then renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    tmp = target.with_suffix(target.suffix + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
