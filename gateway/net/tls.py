"""TLS contexts for the gateway's own connections: the broker, InfluxDB, and outgoing notifications.

One place decides how certificates are checked, so no connection quietly skips verification: with no CA
file the system's trust store is used; a site with its own PKI (or `guardian certs`) names its CA.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from gateway.errors import ConfigError


def client_context(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """Verifying server certificate and host name, TLS 1.2 at least; a client certificate when given."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS: cannot load {ca_file or ''} {cert_file or ''}: {exc}".strip()) from exc
    return context
