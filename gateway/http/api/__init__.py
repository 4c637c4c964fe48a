"""The REST API under /api/v1: sign-in, the estate seen through each caller's scope, alarms (docs/api.md)."""

from gateway.http.api.context import ApiContext, LiveView
from gateway.http.api.limits import BodyLimit
from gateway.http.api.models import errors

__all__ = ["ApiContext", "BodyLimit", "LiveView", "errors"]
