"""The gateway's HTTP face for operators: /healthz and /metrics (the API proper arrives with the store)."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.health import Health
from gateway.metrics import Metrics
from gateway.notify.notifier import Notifier
from gateway.notify.routes import notify_router


def create_app(health: Health, metrics: Metrics, notifier: Notifier | None = None) -> FastAPI:
    app = FastAPI(title="Gas Guardian gateway", version="0.1.0")
    if notifier is not None:
        app.include_router(notify_router(notifier))

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 when the broker session and InfluxDB writes are up, 503 with the reason when not.

        Meant for alerting, not for liveness restarts: while InfluxDB is away the gateway is doing its
        job (spooling) and must not be restarted.
        """
        report = health.report()
        return JSONResponse(report, status_code=200 if health.ok else 503)

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
