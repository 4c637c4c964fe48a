"""Talking to servers: TLS contexts from settings and the HTTP headers both the InfluxDB client and the
channels read (Retry-After)."""

from gateway.net.httpheaders import retry_after
from gateway.net.tls import client_context

__all__ = ["client_context", "retry_after"]
