"""What the gateway says about itself: Prometheus metrics and the health of each component (/healthz,
/readyz)."""

from gateway.observe.health import Component, Health
from gateway.observe.metrics import Metrics

__all__ = ["Component", "Health", "Metrics"]
