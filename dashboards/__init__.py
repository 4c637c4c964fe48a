"""Grafana dashboards as code (docs/dashboards.md): `python -m dashboards` writes dashboards/provisioning/."""

DATASOURCE_UID = "guardian-influxdb"
"""Every panel names this data source; the provisioned data source carries it."""

__all__ = ["DATASOURCE_UID"]
