"""The running gateway: the composition root (app), health and readiness, metrics, TLS, heap settings, the
child process that prepares large registries, and progress lines for long starts.

Nothing is imported here: a district instance uses `child` and `progress` without loading the single-box
composition root (FastAPI, the notifier's channels, SQLAlchemy: ~50 MB of RSS it never uses)."""

__all__: list[str] = []
