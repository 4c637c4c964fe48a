"""The gateway's HTTP face: /healthz, /readyz and /metrics for operators, the API under /api/v1 (docs/api.md),
the resident app and the control-room console (no CDN: everything is served from here)."""

from __future__ import annotations

import swagger_ui_bundle
from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.http.api.context import ApiContext
from gateway.http.api.limits import BodyLimit
from gateway.http.links import notify_router, static_file
from gateway.notify.face import NotifierFace
from gateway.observe.health import Health
from gateway.observe.metrics import Metrics


def create_app(
    health: Health, metrics: Metrics, notifier: NotifierFace | None = None, api: ApiContext | None = None
) -> FastAPI:
    app = FastAPI(
        title="Gas Guardian gateway",
        version="0.1.0",
        description="Alarms, households and devices of the sites this gateway protects, seen through each "
        "caller's role and scope. Sign in at /api/v1/auth/token.",
        docs_url=None,
        redoc_url=None,
    )
    # Swagger UI from an installed package, not a CDN: a control room is often offline, and a page that
    # fetches scripts from abroad is blank in mainland China.
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    if notifier is not None:
        app.include_router(notify_router(notifier))
    if api is not None:
        from gateway.http.api import (
            alarm_routes,
            alarm_view_routes,
            auth_routes,
            duty_routes,
            estate_routes,
            home_assistant_routes,
            incident_routes,
            open311_routes,
            order_photo_routes,
            preference_routes,
            work_order_routes,
        )

        app.state.api = api
        app.include_router(auth_routes.router)
        app.include_router(estate_routes.router)
        app.include_router(alarm_view_routes.router)  # before alarm_routes' catch-all `/alarms/{id}`
        app.include_router(alarm_routes.router)
        app.include_router(incident_routes.router)
        app.include_router(duty_routes.router)
        app.include_router(preference_routes.router)
        app.include_router(order_photo_routes.router)  # before work_order_routes' `/{id}/{action}`
        app.include_router(work_order_routes.router)
        app.include_router(open311_routes.router)
        if api.home_assistant is not None:  # opt-in on the gateway too: no route while it is off
            app.include_router(home_assistant_routes.router)
        photo_max = api.photos.max_bytes if api.photos is not None else api.max_body
        app.add_middleware(
            BodyLimit, max_body=api.max_body, larger=((order_photo_routes.PHOTO_PATH, photo_max),)
        )

        @app.get("/console/", include_in_schema=False)
        @app.get("/console/{name}", include_in_schema=False)
        def console_file(name: str = "console.html") -> FileResponse:
            return static_file(name)

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse("/app/")

    @app.get("/healthz", tags=["operations"], responses={503: {"description": "a dependency is down"}})
    def healthz() -> JSONResponse:
        """200 when the broker session and InfluxDB writes are up, 503 with the reason when not.

        Meant for alerting, not for liveness restarts: while InfluxDB is away the gateway is doing its
        job (spooling) and must not be restarted.
        """
        report = health.report()
        return JSONResponse(report, status_code=200 if health.ok else 503)

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "not ready yet"}})
    async def readyz() -> JSONResponse:
        """200 while the gateway can serve: the store answers, the rules are keeping up with the spool, the
        broker session is up (a district's API replica: the store answers and its NATS link is up). Each is
        measured when asked, for a load balancer."""
        parts = await api.ready() if api is not None and api.ready is not None else {}
        ok = all(parts.values())
        return JSONResponse({"ready": ok, **parts}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
