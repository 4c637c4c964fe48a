"""The running gateway: the composition root (app), health and readiness, metrics, TLS, heap settings, the
child process that prepares large registries, and progress lines for long starts."""

from gateway.runtime.app import QuietServer, run
from gateway.runtime.audit import placeholder_secrets, probe_now, weak_settings
from gateway.runtime.heap import tune_malloc
from gateway.runtime.progress import Progress

__all__ = [
    "Progress",
    "QuietServer",
    "placeholder_secrets",
    "probe_now",
    "run",
    "tune_malloc",
    "weak_settings",
]
