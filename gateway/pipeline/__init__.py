"""The data path in flow order: ingest (MQTT in, spool commit, then PUBACK), the follower reading the spool,
the processor's decode stage, the alarm stage (rules and lifecycle), the export stage to InfluxDB, status
lines and the gateway's own figures; replay runs the same stages over history in event time."""
