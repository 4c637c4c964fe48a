"""Talking to servers: TLS contexts from settings and the HTTP headers both the InfluxDB client and the
channels read (Retry-After)."""
