"""Grafana provisioning and dashboards as code."""
