"""The running gateway: the composition root (app), health and readiness, metrics, TLS, heap settings, the
child process that prepares large registries, and progress lines for long starts."""
