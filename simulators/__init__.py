"""Simulated estates and devices: registries to match, and fleets publishing the v1 wire contract."""
