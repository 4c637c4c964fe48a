"""Settings (environment, file, defaults, validated once) and the registry files they name."""
