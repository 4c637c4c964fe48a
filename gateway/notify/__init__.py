"""Getting an alarm to a person: routing, durable outbox, channels, acknowledgement links.

See docs/notifications.md."""

from gateway.notify.directory import Directory
from gateway.notify.notifier import Notifier
from gateway.notify.outbox import OutboxStore
from gateway.notify.setup import build_notifier, enrolment_link, http_client
from gateway.subscription import Subscription

__all__ = [
    "Directory",
    "Notifier",
    "OutboxStore",
    "Subscription",
    "build_notifier",
    "enrolment_link",
    "http_client",
]
