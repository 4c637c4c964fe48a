"""What the store will not keep, found line by line, so one bad point never holds back its neighbours.

Two kinds, each turned into `Rejection`s for a quarantine (the spool's table on one box, the district's
`GUARDIAN_REJECTED` stream in a cluster), so the same point is refused the same way in both shapes:

- **refused**: the store answered 400/413 (a field type conflict, a line too large). The batch is halved
  until the refused lines stand alone; the rest is written. Everything else (down, 429, 5xx) is the
  caller's to retry: `write` raises it.
- **beyond retention**: VictoriaMetrics drops a point older than its retention with only a line in its own
  log, answering 204. Such points are taken out before the write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from gateway.errors import StorageRejected, StorageTooLarge
from sensors.columns import Rejection
from sensors.rejections import Reason

RETENTION_MARGIN_S = 60.0
"""A point this close to the retention edge is refused too: it could cross the edge between our check and
the write (a retry, a clock a little off)."""
LINE_BYTES_KEPT = 1024


async def write_or_refuse(
    lines: Sequence[bytes],
    msg_ids: Sequence[int],
    write: Callable[[list[bytes]], Awaitable[None]],
    *,
    now: float,
    store: str,
) -> list[Rejection]:
    """Write `lines`, halving on a data refusal; returns one rejection per line the store would not take."""
    try:
        await write(list(lines))
        return []
    except (StorageRejected, StorageTooLarge) as exc:
        if len(lines) == 1:
            detail = f"{store} refused the line: {exc}"[:200]
            return [
                Rejection(
                    msg_ids[0],
                    -1,
                    round(now * 1e6),
                    "",
                    Reason.STORAGE_REJECTED,
                    detail,
                    lines[0][:LINE_BYTES_KEPT],
                )
            ]
        mid = len(lines) // 2
        first = await write_or_refuse(lines[:mid], msg_ids[:mid], write, now=now, store=store)
        return first + await write_or_refuse(lines[mid:], msg_ids[mid:], write, now=now, store=store)


def beyond_retention(
    lines: Sequence[bytes], msg_ids: Sequence[int], *, now: float, retention_s: float, edge: str
) -> tuple[list[bytes], list[int], list[Rejection]]:
    """(lines kept, their message ids, rejections for the rest); `edge` names the retention in the detail
    ("VictoriaMetrics' retention (365d)"). A line's time is its last field, in nanoseconds: every line the
    gateway writes has one."""
    if retention_s == float("inf"):
        return list(lines), list(msg_ids), []
    oldest_ns = int((now - retention_s + RETENTION_MARGIN_S) * 1e9)
    if all(int(line.rsplit(b" ", 1)[1]) >= oldest_ns for line in lines):
        return list(lines), list(msg_ids), []
    kept: list[bytes] = []
    kept_ids: list[int] = []
    refused: list[Rejection] = []
    per_message: dict[int, int] = {}
    for line, mid in zip(lines, msg_ids, strict=True):
        ts_ns = int(line.rsplit(b" ", 1)[1])
        if ts_ns >= oldest_ns:
            kept.append(line)
            kept_ids.append(mid)
            continue
        # one message may carry several points (a concentrator's batch): each its own quarantine row
        item = per_message[mid] = per_message.get(mid, 0) - 1
        age_days = (now - ts_ns / 1e9) / 86400
        detail = f"point {age_days:.1f} days old is beyond {edge}; it would be dropped unstored"
        refused.append(
            Rejection(
                mid, item, round(now * 1e6), "", Reason.BEYOND_RETENTION, detail, line[:LINE_BYTES_KEPT]
            )
        )
    return kept, kept_ids, refused
