"""Who may do what in InfluxDB 1.x: an admin who makes the schema, the gateway that writes, readers.

InfluxDB with `auth-enabled = false` lets anyone on the network read every reading and door event, and
write false ones. So a site runs it with authentication on, and three kinds of user:

    guardian-admin     ALL PRIVILEGES: users, the database, retention policies, continuous queries; its
                       password is used by `guardian influx provision` and nothing else
    guardian-gateway   ALL on the gateway's database only (read and write, no users, no schema): what
                       `guardian run` logs in as (secrets/influx__username, secrets/influx__password)
    guardian-reader    READ on the database only: Grafana's data source and `guardian report`

InfluxDB lets the first admin be created without credentials while it has no users; `create_admin` does
that once and keeps its password. The folder this writes:

    admin.password                      the admin's password (only when this made the admin)
    secrets/influx__username            the gateway's login, read through GUARDIAN_SECRETS_DIR
    secrets/influx__password
    accounts/guardian-reader.password   the read-only user's password, for Grafana and reports

Provisioning again keeps every password and re-applies the grants and the schema.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from gateway.config.settings import InfluxSettings
from gateway.errors import ConfigError
from gateway.influx.client import InfluxV1
from gateway.influx.retention import ensure_schema

ADMIN = "guardian-admin"
WRITER = "guardian-gateway"
READER = "guardian-reader"


def _quote(password: str) -> str:
    return password.replace("\\", "\\\\").replace("'", "\\'")


@dataclass(frozen=True, slots=True)
class InfluxAccess:
    directory: Path

    def _keep(self, path: Path, value: str | None = None) -> str:
        """A password kept in a 0600 file: the one there, else `value` or a new one, written."""
        if path.exists():
            return path.read_text().strip()
        password = value or secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        path.chmod(0o600)
        return password

    @property
    def admin_file(self) -> Path:
        return self.directory / "admin.password"

    def reader_password(self) -> str:
        return (self.directory / "accounts" / f"{READER}.password").read_text().strip()

    def writer_password(self) -> str:
        return (self.directory / "secrets" / "influx__password").read_text().strip()

    def create_admin(self, url: str, ca_file: Path | None = None) -> str:
        """The first admin of an InfluxDB that has no users yet (allowed without credentials)."""
        if self.admin_file.exists():
            return self.admin_file.read_text().strip()
        password = secrets.token_urlsafe(24)
        q = f"CREATE USER \"{ADMIN}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
        response = httpx.post(
            f"{url}/query", data={"q": q}, timeout=10, verify=str(ca_file) if ca_file else True
        )
        if response.status_code != 200 or "error" in response.text:
            raise ConfigError(
                f"cannot create InfluxDB's first admin ({response.status_code} {response.text[:200]}): "
                "it has users already; give their admin's password with --admin-password-file"
            )
        return self._keep(self.admin_file, password)

    def provision(self, settings: InfluxSettings, admin_user: str, admin_password: str) -> None:
        """Schema as the admin, then the gateway's and the reader's users with their grants."""
        asyncio.run(self._provision(settings, admin_user, admin_password))

    async def _provision(self, settings: InfluxSettings, admin_user: str, admin_password: str) -> None:
        admin = settings.model_copy(update={"username": admin_user, "password": SecretStr(admin_password)})
        writer = self._keep(self.directory / "secrets" / "influx__password")
        self._keep(self.directory / "secrets" / "influx__username", WRITER)
        reader = self._keep(self.directory / "accounts" / f"{READER}.password")
        db = settings.database
        async with InfluxV1(admin) as influx:
            await ensure_schema(influx)
            users = await influx.query("SHOW USERS")
            existing = {row[0] for row in (users["results"][0].get("series") or [{}])[0].get("values") or []}
            for user, password, grant in ((WRITER, writer, "ALL"), (READER, reader, "READ")):
                if user in existing:
                    await influx.query(f"SET PASSWORD FOR \"{user}\" = '{_quote(password)}'", method="POST")
                else:
                    await influx.query(
                        f"CREATE USER \"{user}\" WITH PASSWORD '{_quote(password)}'", method="POST"
                    )
                await influx.query(f'REVOKE ALL PRIVILEGES ON "{db}" FROM "{user}"', method="POST")
                await influx.query(f'GRANT {grant} ON "{db}" TO "{user}"', method="POST")


__all__ = ["ADMIN", "READER", "WRITER", "InfluxAccess"]
