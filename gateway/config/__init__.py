"""Settings (environment, file, defaults, validated once) and the registry files they name."""

from gateway.config.registry_file import load_registries, registry_files
from gateway.config.settings import (
    SECRETS_DIR_ENV,
    InfluxSettings,
    MqttSettings,
    NotifySettings,
    Settings,
    load_settings,
)

__all__ = [
    "SECRETS_DIR_ENV",
    "InfluxSettings",
    "MqttSettings",
    "NotifySettings",
    "Settings",
    "load_registries",
    "load_settings",
    "registry_files",
]
