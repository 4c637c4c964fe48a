"""The data path in flow order: ingest (MQTT in, spool commit, then PUBACK), the follower reading the spool,
the processor's decode stage, the alarm stage (rules and lifecycle), the export stage to InfluxDB, status
lines and the gateway's own figures; replay runs the same stages over history in event time."""

from gateway.pipeline.alarms import AlarmStage
from gateway.pipeline.exporter import Exporter
from gateway.pipeline.inbox import AlarmInbox
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.processor import Processor
from gateway.pipeline.replay import build_engine, replay
from gateway.pipeline.spool import Spool

__all__ = ["AlarmInbox", "AlarmStage", "Exporter", "Ingest", "Processor", "Spool", "build_engine", "replay"]
