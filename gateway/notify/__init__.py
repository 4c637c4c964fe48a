"""Getting an alarm to a person: routing, durable outbox, channels, acknowledgement links.

See docs/notifications.md.
"""
