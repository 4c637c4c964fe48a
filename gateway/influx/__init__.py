"""InfluxDB: the v1 HTTP client with its resilient writes, line protocol for every measurement, the bounded
counted queue a side stream writes through, retention policies and the continuous queries that downsample."""
