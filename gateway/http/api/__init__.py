"""The REST API under /api/v1: sign-in, the estate seen through each caller's scope, alarms (docs/api.md)."""
