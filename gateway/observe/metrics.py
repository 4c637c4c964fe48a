"""Prometheus metrics of one gateway instance, in its own registry (several may run in one test process).

Counters are incremented once per batch with the batch's count, never per message.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sensors.rejections import Reason


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.received = Counter("guardian_messages_received_total", "MQTT messages received", registry=r)
        self.redelivered = Counter(
            "guardian_redelivered_total",
            "broker redeliveries already in the spool, acknowledged again",
            registry=r,
        )
        self.spool_commits = Counter("guardian_spool_commits_total", "spool transactions", registry=r)
        self.spool_commit_seconds = Histogram(
            "guardian_spool_commit_seconds",
            "time to commit one batch to the spool",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.spool_depth = Gauge(
            "guardian_spool_depth", "messages in the spool not yet in InfluxDB", registry=r
        )
        self.accepted = Counter("guardian_accepted_total", "accepted records by kind", ["kind"], registry=r)
        self.rejected = Counter(
            "guardian_rejected_total", "rejected messages by reason", ["reason"], registry=r
        )
        for reason in Reason:
            self.rejected.labels(reason=reason.value)
        self.clock_skew = Counter(
            "guardian_clock_skew_total",
            "device times outside the allowed skew, replaced by receive time",
            registry=r,
        )
        self.late = Counter(
            "guardian_late_total",
            "messages whose device time was older than the skew allows but within the backfill window: "
            "stored at their own time (a buffered upload)",
            registry=r,
        )
        self.points_written = Counter(
            "guardian_influx_points_written_total", "points InfluxDB accepted", registry=r
        )
        self.write_errors = Counter(
            "guardian_influx_write_errors_total", "failed InfluxDB writes by kind", ["kind"], registry=r
        )
        self.write_seconds = Histogram(
            "guardian_influx_write_seconds",
            "InfluxDB write latency",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=r,
        )
        self.influx_up = Gauge("guardian_influx_up", "1 when the last InfluxDB write succeeded", registry=r)
        self.alarm_transitions = Counter(
            "guardian_alarm_transitions_total", "alarm transitions", ["rule", "transition"], registry=r
        )
        self.alarms_active = Gauge(
            "guardian_alarms_active", "open alarms (active or unacknowledged)", registry=r
        )
        self.status_lines_dropped = Counter(
            "guardian_status_lines_dropped_total",
            "estate-state and self-metric points dropped while InfluxDB was away",
            registry=r,
        )
        self.alarm_outbox_dropped = Counter(
            "guardian_alarm_outbox_dropped_total", "transitions dropped before reaching InfluxDB", registry=r
        )
        self.paid_sends = Counter(
            "guardian_notify_paid_sends_total",
            "sends that cost money (SMS, voice calls)",
            ["site", "channel"],
            registry=r,
        )
        self.paid_today = Gauge(
            "guardian_notify_paid_sends_today",
            "sends that cost money so far in the site's local day, against its cap (notify/costs.py)",
            ["site", "channel"],
            registry=r,
        )
        self.paid_capped = Counter(
            "guardian_notify_paid_capped_total",
            "paid sends a cost cap held (P3/P4) or let past it (P1/P2); cap is 'number' or 'site'",
            ["site", "channel", "cap", "outcome"],
            registry=r,
        )
        self.alarm_inbox_dropped = Counter(
            "guardian_alarm_inbox_dropped_total",
            "system alarms dropped: the alarm stage's inbox was full",
            registry=r,
        )
        self.mqtt_connected = Gauge("guardian_mqtt_connected", "1 while the broker session is up", registry=r)
        self.home_assistant_links = Gauge(
            "guardian_home_assistant_links",
            "households' Home Assistant links by state (docs/home-assistant.md)",
            ["state"],
            registry=r,
        )
        self.home_assistant_states = Counter(
            "guardian_home_assistant_states_total",
            "states published to residents' Home Assistant brokers (at most one a second per entity)",
            registry=r,
        )
        self.home_assistant_presses = Counter(
            "guardian_home_assistant_presses_total",
            "acknowledge buttons pressed in residents' Home Assistant, by outcome",
            ["outcome"],
            registry=r,
        )
        self.devices_flooding = Gauge(
            "guardian_devices_flooding",
            "devices whose messages were dropped for their rate in the last minute (sensors/flood.py)",
            registry=r,
        )
        self.mqtt_connections = Gauge(
            "guardian_mqtt_connections",
            "broker connection attempts since start (more than 1: the link dropped or was taken over)",
            registry=r,
        )
        self.handoff_overflow = Counter(
            "guardian_handoff_overflow_total",
            "in-memory hand-offs skipped because a stage was behind (it re-reads from the spool)",
            ["stage"],
            registry=r,
        )
        self.notifications = Counter(
            "guardian_notifications_total",
            "delivery state changes per channel (queued, sent, delivered, failed, merged, retry)",
            ["channel", "state"],
            registry=r,
        )
        self.notify_open = Gauge(
            "guardian_notify_outbox_open", "deliveries not yet delivered or failed", registry=r
        )
        self.notify_decision_seconds = Histogram(
            "guardian_notify_decision_seconds",
            "from the event that raised an alarm to its deliveries handed to the channels",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5, 15),
            registry=r,
        )
        self.duty_fallbacks = Counter(
            "guardian_notify_duty_fallback_total",
            "officers or desk staff looked up for an alarm when no shift of the duty roster covered its "
            "time: everyone of that grid or desk was told",
            ["site", "role"],
            registry=r,
        )
        self.notify_opted_out = Counter(
            "guardian_notify_opted_out_total",
            "P3/P4 notifications not sent because the person opted out of that rule or family",
            ["rule"],
            registry=r,
        )
        self.notify_lines_dropped = Counter(
            "guardian_notify_lines_dropped_total",
            "notification states dropped before reaching InfluxDB",
            registry=r,
        )
        self.circuit_open = Gauge(
            "guardian_notify_circuits_open", "channel targets whose circuit breaker is open", registry=r
        )
