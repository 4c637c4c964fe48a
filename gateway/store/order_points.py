"""A work order's change as a point of the `work_order` measurement (docs/work-orders.md), for the orders
board and the daily report: whoever changes an order (the API, the order desk) writes it the same way."""

from __future__ import annotations

from gateway.influx.lineprotocol import work_order_line
from gateway.influx.linequeue import LineQueue
from gateway.store.schema import WorkOrder


def record(lines: LineQueue | None, order: WorkOrder, action: str) -> None:
    """One point per change, through the exporter's resilient side stream (dropped quietly without one).
    A claim carries `claim_s`, a resolve `resolve_s` (hold time left out), each with `late` (1: its clock
    had run out); a verify its rating."""
    if lines is None:
        return
    started = order.created_ts
    claim_s = late = None
    if action == "claim" and order.claimed_ts:
        claim_s = order.claimed_ts - started
        late = order.claimed_ts > order.claim_due_ts
    resolve_s = None
    if action == "resolve" and order.resolved_ts:
        resolve_s = order.resolved_ts - started - order.held_s
        late = order.resolved_ts > order.resolve_due_ts
    lines.put([
        work_order_line(
            order_id=order.id, site=order.site, building=order.building, category=order.category,
            priority=order.priority, action=action, state=order.state, team=order.team or "",
            ts_us=lines.unique_us(order.updated_ts), claim_s=claim_s, resolve_s=resolve_s, late=late,
            rating=order.rating if action == "verify" else None,
        )
    ])  # fmt: skip
