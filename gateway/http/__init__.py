"""Every route the gateway serves: operations (health, metrics), the pages, the acknowledgement and enrolment
links, and the REST API (`api/`)."""

from gateway.http.app import create_app

__all__ = ["create_app"]
