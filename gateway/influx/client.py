"""InfluxDB through the v1 HTTP API (`/write`, `/query`, `/ping`), which 1.x, 2.x and 3.x all serve.

VictoriaMetrics (`kind: victoriametrics`, docs/victoriametrics.md) takes the same line protocol on `/write`
(answering 204, the `db` argument becoming a `db` label, `rp` ignored) and reports its health on `/health`
(200 "OK"); it has no InfluxQL, so `query`, `rows` and `count` are InfluxDB's only.

Response handling follows docs/reliability.md: every status maps to one exception of gateway.errors
so the exporter can decide between retrying, splitting and holding.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx

from gateway.config.settings import InfluxSettings
from gateway.errors import (
    StorageConfigError,
    StorageRejected,
    StorageTooLarge,
    StorageUnavailable,
)
from gateway.influx.policies import measurement_policy
from gateway.net.httpheaders import retry_after
from gateway.net.tls import client_context

OFF_LOOP_BYTES = 64 << 10
"""Bodies this large are compressed off the event loop; smaller ones cost less than the hand-off."""


class InfluxV1:
    def __init__(
        self, settings: InfluxSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.victoria = settings.kind == "victoriametrics"
        self.name = "VictoriaMetrics" if self.victoria else "InfluxDB"
        headers = {}
        auth: httpx.BasicAuth | None = None
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
        elif settings.username is not None and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        self._client = httpx.AsyncClient(
            base_url=settings.url,
            headers=headers,
            auth=auth,
            timeout=settings.timeout,
            transport=transport,
            verify=client_context(settings.ca_file),
            limits=httpx.Limits(max_connections=settings.concurrency + 2),
        )

    async def __aenter__(self) -> InfluxV1:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def write(self, body: bytes, *, rp: str | None = None, precision: str = "n") -> None:
        """POST line protocol (newline-joined) into one retention policy (default: the raw one); raises a
        StorageError subclass unless all was written."""
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.settings.gzip:
            # zlib lets go of the GIL: a large body (a coalesced write is ~1 MB, ~10 ms to compress) is
            # compressed on a worker thread, so the alarm path is not held up behind it on the event loop
            if len(body) >= OFF_LOOP_BYTES:
                body = await asyncio.to_thread(gzip.compress, body, 1)
            else:
                body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params = {
            "db": self.settings.database,
            "rp": rp or self.settings.retention_policy,
            "precision": precision,
        }
        try:
            response = await self._client.post("/write", params=params, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise StorageUnavailable(f"{self.name} write timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"{self.name} unreachable: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        # InfluxDB 1.x and VictoriaMetrics answer 204; a 200 is the odd proxy's or a 2.x compatibility layer's
        if status in {200, 204}:
            return
        text = response.text[:500]
        if status in (400, 422):
            raise StorageRejected(text)
        if status == 413:
            raise StorageTooLarge(text)
        if status in (401, 403, 404):
            raise StorageConfigError(f"{self.name} answered {status}: {text}")
        raise StorageUnavailable(f"{self.name} answered {status}: {text}", retry_after=retry_after(response))

    async def health(self) -> None:
        """Raise StorageUnavailable unless the store says it is up: InfluxDB's /ping answers 204,
        VictoriaMetrics' /health 200 "OK" (at the server's root, also for a cluster's vminsert URL)."""
        path, expected = ("/health", 200) if self.victoria else ("/ping", 204)
        url = httpx.URL(self.settings.url).copy_with(path=path, query=None)
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"{self.name} unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise StorageConfigError(f"{self.name} answered {response.status_code} on {path}")
        if response.status_code != expected or (self.victoria and response.text.strip() != "OK"):
            raise StorageUnavailable(
                f"{self.name} not ready: {path} answered {response.status_code} {response.text[:100]!r}",
                retry_after(response),
            )

    async def query(self, q: str, *, method: str = "GET", epoch: str | None = None) -> dict[str, Any]:
        params = {"db": self.settings.database, "q": q}
        if epoch is not None:
            params["epoch"] = epoch
        try:
            if method == "POST":
                response = await self._client.post("/query", data=params)
            else:
                response = await self._client.get("/query", params=params)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"InfluxDB unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise StorageConfigError(f"InfluxDB answered {response.status_code}: {response.text[:300]}")
        if response.status_code >= 500:
            raise StorageUnavailable(f"InfluxDB answered {response.status_code}", retry_after(response))
        result: dict[str, Any] = response.json()
        for statement in result.get("results", []):
            if "error" in statement:
                raise StorageRejected(f"{q!r}: {statement['error']}")
        if "error" in result:
            raise StorageRejected(f"{q!r}: {result['error']}")
        return result

    async def rows(self, q: str, *, epoch: str | None = None) -> list[dict[str, Any]]:
        """The first statement's rows, each a dict of its series' tags and its columns."""
        result = await self.query(q, epoch=epoch)
        return [
            {**s.get("tags", {}), **dict(zip(s["columns"], values, strict=True))}
            for s in result["results"][0].get("series", [])
            for values in s["values"]
        ]

    def policy(self, measurement: str) -> str:
        """The retention policy `measurement` is written to (gateway.influx.policies), for queries."""
        return measurement_policy(measurement, self.settings.retention_policy)

    async def count(
        self, measurement: str, field: str = "seq", where: str = "", rp: str | None = None
    ) -> int:
        """Number of stored values of one field (tests, benchmarks, the demo's 'where to look' line)."""
        rp = rp or self.policy(measurement)
        q = f'SELECT count("{field}") FROM "{rp}"."{measurement}"'
        if where:
            q += f" WHERE {where}"
        rows = await self.rows(q)
        return int(rows[0]["count"]) if rows else 0
