"""What the gateway says about itself: Prometheus metrics and the health of each component (/healthz,
/readyz)."""
